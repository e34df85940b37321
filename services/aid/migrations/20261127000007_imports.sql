-- Bulk import of children (import.proto): one record per upload, with its summary, and
-- the outcome of each data row. A row's outcome names its row number, the record and the
-- problems' columns and reasons, never a cell's value: no name or IIN is kept here.

CREATE TABLE aid.child_imports (
    id                           text        PRIMARY KEY,
    campaign_id                  text        NOT NULL REFERENCES aid.campaigns (id),
    school_id                    text        NOT NULL REFERENCES aid.schools (id),
    region_code                  text        NOT NULL,
    -- Who uploaded (the token's subject) and the upload's idempotency key.
    actor                        text        NOT NULL,
    request_id                   text        NOT NULL,
    file_name                    text        NOT NULL CHECK (char_length(file_name) BETWEEN 1 AND 255),
    format                       text        NOT NULL CHECK (format IN ('CSV', 'XLSX')),
    size_bytes                   bigint      NOT NULL CHECK (size_bytes >= 0),
    sha256                       text        NOT NULL,
    rows                         integer     NOT NULL DEFAULT 0 CHECK (rows >= 0),
    imported                     integer     NOT NULL DEFAULT 0 CHECK (imported >= 0),
    imported_probable_duplicates integer     NOT NULL DEFAULT 0 CHECK (imported_probable_duplicates >= 0),
    already_listed               integer     NOT NULL DEFAULT 0 CHECK (already_listed >= 0),
    duplicate_in_file            integer     NOT NULL DEFAULT 0 CHECK (duplicate_in_file >= 0),
    invalid                      integer     NOT NULL DEFAULT 0 CHECK (invalid >= 0),
    create_time                  timestamptz NOT NULL,
    complete_time                timestamptz NOT NULL,
    UNIQUE (actor, request_id)
);
CREATE INDEX child_imports_school ON aid.child_imports (campaign_id, school_id, create_time);

CREATE TABLE aid.child_import_rows (
    import_id          text    NOT NULL REFERENCES aid.child_imports (id) ON DELETE CASCADE,
    row_number         integer NOT NULL CHECK (row_number >= 2),
    outcome            text    NOT NULL CHECK (outcome IN ('IMPORTED', 'ALREADY_LISTED',
                                   'DUPLICATE_IN_FILE', 'INVALID')),
    -- The record listed (IMPORTED) or found (ALREADY_LISTED); shown only to who reads it.
    child_id           text,
    probable_duplicate boolean NOT NULL DEFAULT false,
    first_row          integer,
    -- For INVALID: [{"column": "iin", "reason": "IIN_INVALID"}, …] in column order.
    problems           jsonb   NOT NULL DEFAULT '[]',
    PRIMARY KEY (import_id, row_number)
);
CREATE INDEX child_import_rows_child ON aid.child_import_rows (import_id, child_id)
    WHERE child_id IS NOT NULL;
