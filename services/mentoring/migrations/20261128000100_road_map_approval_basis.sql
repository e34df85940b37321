-- ApproveRoadMap records the director's act approving the road map («приказ № 18 от
-- 14.04.2022»; the contract's RoadMap.approval_basis): set with the approval, empty while
-- DRAFT.
ALTER TABLE mentoring.institutions
    ADD COLUMN road_map_approval_basis text NOT NULL DEFAULT ''
        CHECK (length(road_map_approval_basis) <= 300),
    ADD CONSTRAINT institutions_approval_basis_when_approved
        CHECK (road_map_state = 'APPROVED' OR road_map_approval_basis = '');
