-- Envelope encryption of PHI at rest (`carepath_engine::vault`): one data
-- key per journey, per patient and per day of webhook bodies, stored only
-- wrapped by a key-encryption key from configuration, which never enters
-- the database (nor its backups). Erasure destroys a key and keeps its row
-- (crypto-shredding): what it sealed stays, unreadable, so the history's
-- hash chain — over what was stored — still verifies.
CREATE TABLE carepath.data_keys (
    id                uuid        PRIMARY KEY,
    -- `journey:<id>`, `patient:<id>` or `inbox:<yyyy-mm-dd>`.
    owner             text        NOT NULL UNIQUE,
    -- The KEK that wraps it, and the wrapped key; both NULL once destroyed.
    kek_id            text,
    wrapped           bytea,
    created_at        timestamptz NOT NULL DEFAULT now(),
    rewrapped_at      timestamptz,
    destroyed_at      timestamptz,
    destroyed_reason  text,
    CONSTRAINT data_keys_destroyed CHECK ((kek_id IS NULL) = (wrapped IS NULL)
        AND (wrapped IS NULL) = (destroyed_at IS NOT NULL))
);
-- Rotation looks for live keys not under the current KEK.
CREATE INDEX data_keys_kek ON carepath.data_keys (kek_id) WHERE wrapped IS NOT NULL;
