-- A store as consoledx wrote it before PRAGMA user_version (schema version 1),
-- with one diagnosis voted on and one not. Never edit: it stands for files in the field.
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE diagnoses (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    rule TEXT,
    error_code TEXT,
    service TEXT,
    region TEXT,
    context_json TEXT NOT NULL
);
CREATE TABLE feedback (
    diagnosis_id TEXT PRIMARY KEY REFERENCES diagnoses(id),
    verdict TEXT NOT NULL CHECK (verdict IN ('helpful', 'not_helpful')),
    comment TEXT,
    created_at TEXT NOT NULL
);
INSERT INTO schema_version (version) VALUES (1);
INSERT INTO diagnoses (id, created_at, rule, error_code, service, region, context_json) VALUES
    ('11111111-1111-4111-8111-111111111111', '2026-10-01T08:00:00Z', 's3.bucket_not_empty', 'BucketNotEmpty', 's3', 'us-west-2', '{"message":"This bucket is not empty."}'),
    ('22222222-2222-4222-8222-222222222222', '2026-10-02T09:30:00Z', NULL, NULL, NULL, NULL, '{"message":"Something odd."}');
INSERT INTO feedback (diagnosis_id, verdict, comment, created_at) VALUES
    ('11111111-1111-4111-8111-111111111111', 'not_helpful', 'said "empty it", but versioning was on, too', '2026-10-01T08:05:00Z');
