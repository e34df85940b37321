-- Needs of listed children and the help delivered against them (rule 3); donations, pledged
-- then received, and their allocations to needs (rule 4). Money is bigint tiyn, never a
-- floating-point number. Every running sum is stored on its row and bound by a CHECK, so the
-- database holds the rules even against a faulty writer: a donation's allocated sum never
-- passes its received value, a need's committed sum never passes its coverage limit, and
-- nothing is delivered that was not committed. Writers lock a donation, then a need, then an
-- allocation (store/mod.rs), re-read the sums under those locks and check them before
-- writing. Nothing here holds a child's name or IIN: needs and allocations refer to the
-- child by its random ID.

-- Rule 3: one item a child needs. A second need of the same item for the same child is
-- refused, except `OTHER`. The coverage limit is the estimate, or the regional staff's
-- override when it is higher (who, when and why recorded on the row).
CREATE TABLE aid.needs (
    id                   text        PRIMARY KEY,
    campaign_id          text        NOT NULL REFERENCES aid.campaigns (id),
    child_id             text        NOT NULL REFERENCES aid.children (id),
    item                 text        NOT NULL CHECK (item IN ('UNIFORM', 'SHOES', 'BACKPACK',
                             'STATIONERY', 'TEXTBOOKS', 'CASH', 'OTHER')),
    description          text        NOT NULL DEFAULT '',
    estimated_tiyn       bigint      NOT NULL CHECK (estimated_tiyn BETWEEN 1 AND 100000000),
    override_limit_tiyn  bigint      CHECK (override_limit_tiyn BETWEEN 1 AND 100000000),
    override_reason      text,
    override_actor       text,
    override_time        timestamptz,
    committed_tiyn       bigint      NOT NULL DEFAULT 0 CHECK (committed_tiyn >= 0),
    delivered_tiyn       bigint      NOT NULL DEFAULT 0 CHECK (delivered_tiyn >= 0),
    create_time          timestamptz NOT NULL,
    update_time          timestamptz NOT NULL,
    version              bigint      NOT NULL DEFAULT 1,
    CHECK (item <> 'OTHER' OR description <> ''),
    CHECK ((override_limit_tiyn IS NULL) = (override_reason IS NULL)
           AND (override_limit_tiyn IS NULL) = (override_actor IS NULL)
           AND (override_limit_tiyn IS NULL) = (override_time IS NULL)),
    -- Never over-covered: committed within the limit, delivered within what is committed.
    CHECK (committed_tiyn <= GREATEST(estimated_tiyn, COALESCE(override_limit_tiyn, 0))),
    CHECK (delivered_tiyn <= committed_tiyn),
    UNIQUE (id, child_id)
);
CREATE UNIQUE INDEX needs_one_per_item ON aid.needs (child_id, item) WHERE item <> 'OTHER';
CREATE INDEX needs_by_child ON aid.needs (child_id, item, id);
CREATE INDEX needs_by_campaign ON aid.needs (campaign_id, child_id);

-- Rule 4: a donation of money or goods to one region of a campaign. `donor_subject` is the
-- pledging donor's token subject, NULL for a donation staff recorded for a donor without
-- an account.
CREATE TABLE aid.donations (
    id                   text        PRIMARY KEY,
    campaign_id          text        NOT NULL REFERENCES aid.campaigns (id),
    region_code          text        NOT NULL,
    kind                 text        NOT NULL CHECK (kind IN ('MONEY', 'GOODS')),
    donor_display_name   text        NOT NULL CHECK (donor_display_name <> ''),
    donor_subject        text,
    pledged_tiyn         bigint      NOT NULL CHECK (pledged_tiyn BETWEEN 1 AND 100000000000),
    goods_description    text        NOT NULL DEFAULT '',
    state                text        NOT NULL DEFAULT 'PLEDGED'
        CHECK (state IN ('PLEDGED', 'RECEIVED', 'CANCELLED')),
    received_tiyn        bigint      NOT NULL DEFAULT 0
        CHECK (received_tiyn BETWEEN 0 AND 100000000000),
    receive_date         date,
    receive_time         timestamptz,
    allocated_tiyn       bigint      NOT NULL DEFAULT 0 CHECK (allocated_tiyn >= 0),
    delivered_tiyn       bigint      NOT NULL DEFAULT 0 CHECK (delivered_tiyn >= 0),
    cancel_reason        text        NOT NULL DEFAULT '',
    create_time          timestamptz NOT NULL,
    update_time          timestamptz NOT NULL,
    version              bigint      NOT NULL DEFAULT 1,
    CHECK ((kind = 'GOODS') = (goods_description <> '')),
    CHECK ((state = 'RECEIVED') = (receive_date IS NOT NULL)),
    CHECK ((state = 'RECEIVED') = (receive_time IS NOT NULL)),
    CHECK ((state = 'RECEIVED') = (received_tiyn > 0)),
    CHECK ((state = 'CANCELLED') = (cancel_reason <> '')),
    -- Never allocated beyond its value; nothing delivered that was not allocated.
    CHECK (allocated_tiyn <= received_tiyn),
    CHECK (delivered_tiyn <= allocated_tiyn)
);
CREATE INDEX donations_by_region ON aid.donations (campaign_id, region_code, create_time DESC, id DESC);
CREATE INDEX donations_by_donor ON aid.donations (campaign_id, donor_subject, create_time DESC, id DESC)
    WHERE donor_subject IS NOT NULL;

-- Rule 4: part of a received donation committed to one need: the link from donor to child.
-- `child_id` is the need's child (the key to the need keeps it so), for the beneficiary
-- numbering; it references the need, not the child's row, so an allocation takes no lock on
-- the child and removing a child never waits for an allocation that waits for it.
-- `beneficiary_number` counts the children a donation reaches, 1 for the first (shared by
-- allocations to the same child). OPEN until delivered in full (DELIVERED) or its remainder
-- released (RELEASED); value = delivered + released + what is still open.
CREATE TABLE aid.allocations (
    id                   text        PRIMARY KEY,
    campaign_id          text        NOT NULL REFERENCES aid.campaigns (id),
    donation_id          text        NOT NULL REFERENCES aid.donations (id),
    need_id              text        NOT NULL,
    child_id             text        NOT NULL,
    value_tiyn           bigint      NOT NULL CHECK (value_tiyn BETWEEN 1 AND 100000000),
    note                 text        NOT NULL DEFAULT '',
    state                text        NOT NULL DEFAULT 'OPEN'
        CHECK (state IN ('OPEN', 'DELIVERED', 'RELEASED')),
    delivered_tiyn       bigint      NOT NULL DEFAULT 0 CHECK (delivered_tiyn >= 0),
    released_tiyn        bigint      NOT NULL DEFAULT 0 CHECK (released_tiyn >= 0),
    last_delivery_date   date,
    beneficiary_number   integer     NOT NULL CHECK (beneficiary_number >= 1),
    release_reason       text        NOT NULL DEFAULT '',
    create_time          timestamptz NOT NULL,
    update_time          timestamptz NOT NULL,
    version              bigint      NOT NULL DEFAULT 1,
    FOREIGN KEY (need_id, child_id) REFERENCES aid.needs (id, child_id),
    UNIQUE (id, need_id, donation_id),
    CHECK (delivered_tiyn + released_tiyn <= value_tiyn),
    CHECK (state <> 'OPEN' OR (released_tiyn = 0 AND delivered_tiyn < value_tiyn)),
    CHECK (state <> 'DELIVERED' OR (released_tiyn = 0 AND delivered_tiyn = value_tiyn)),
    CHECK (state <> 'RELEASED' OR (released_tiyn > 0 AND delivered_tiyn + released_tiyn = value_tiyn)),
    CHECK ((state = 'RELEASED') = (release_reason <> '')),
    CHECK ((delivered_tiyn > 0) = (last_delivery_date IS NOT NULL))
);
CREATE INDEX allocations_by_donation ON aid.allocations (donation_id, create_time, id);
CREATE INDEX allocations_by_campaign ON aid.allocations (campaign_id, create_time, id);
CREATE INDEX allocations_by_need ON aid.allocations (need_id);
CREATE INDEX allocations_by_child ON aid.allocations (donation_id, child_id);

-- Rule 3: help handed over against a need, from an allocation of a donation to that same
-- need (the composite key makes the database refuse any other) or from the budget.
-- Recorded once, never changed.
CREATE TABLE aid.help_deliveries (
    id                   text        PRIMARY KEY,
    campaign_id          text        NOT NULL REFERENCES aid.campaigns (id),
    need_id              text        NOT NULL REFERENCES aid.needs (id),
    source               text        NOT NULL CHECK (source IN ('DONATION', 'BUDGET')),
    allocation_id        text,
    donation_id          text,
    budget_source        text        NOT NULL DEFAULT '',
    value_tiyn           bigint      NOT NULL CHECK (value_tiyn BETWEEN 1 AND 100000000),
    delivery_date        date        NOT NULL,
    description          text        NOT NULL DEFAULT '',
    create_time          timestamptz NOT NULL,
    FOREIGN KEY (allocation_id, need_id, donation_id)
        REFERENCES aid.allocations (id, need_id, donation_id),
    CHECK ((source = 'DONATION') = (allocation_id IS NOT NULL AND donation_id IS NOT NULL)),
    CHECK (source = 'DONATION' OR (allocation_id IS NULL AND donation_id IS NULL)),
    CHECK ((source = 'BUDGET') = (budget_source <> ''))
);
CREATE INDEX help_by_need ON aid.help_deliveries (need_id, delivery_date, id);
CREATE INDEX help_by_campaign ON aid.help_deliveries (campaign_id, delivery_date, id);
CREATE INDEX help_by_allocation ON aid.help_deliveries (allocation_id) WHERE allocation_id IS NOT NULL;
