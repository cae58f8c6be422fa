-- The Postgres event store. See docs/adr/0002-postgres-positions.md for why positions are
-- (transaction id, sequence) pairs and how readers avoid the sequence-gap bug.

-- The advisory lock every appending transaction holds (shared) from before it has a transaction
-- id until it ends: readers wait only for transactions holding it, not for every transaction of
-- the cluster. Key: ('shop', hash of the schema), so stores in different schemas are independent.
CREATE FUNCTION shop_append_lock_key() RETURNS INTEGER LANGUAGE sql STABLE AS $$
    SELECT hashtext(current_schema()) & 2147483647
$$;

-- The frontier of `$all` for the current statement's snapshot: every event with a smaller
-- transaction id is visible now or never will be. It is the oldest transaction of the snapshot
-- that may still add events: one holding the append lock, or one that has finished since the
-- snapshot was taken (its events, if any, are invisible to this snapshot). Running transactions
-- without the lock can never append (shop_append refuses a transaction that got its id without
-- taking the lock first), so they do not hold readers back. One read of pg_locks gives both the
-- running transactions and the lock holders consistently. Lock rows are matched by backend pid,
-- never by virtualtransaction: pg_locks reads that live from the backend, and a committing
-- backend resets it while it still holds its locks (a review reproduced a skipped event that
-- way). Rows without a pid (prepared transactions) are never ruled out.
CREATE FUNCTION shop_frontier() RETURNS BIGINT LANGUAGE sql STABLE AS $$
    WITH locks AS MATERIALIZED (
        SELECT locktype, transactionid::text::bigint AS xid32, pid,
               classid, objid, objsubid, mode, granted
          FROM pg_locks
    ),
    writers AS (
        SELECT pid FROM locks
         WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND pid IS NOT NULL
           AND classid::bigint = 1936224112 AND objid::bigint = shop_append_lock_key()
    ),
    idle_holders AS (
        SELECT xid32 FROM locks
         WHERE locktype = 'transactionid' AND mode = 'ExclusiveLock' AND granted
           AND pid IS NOT NULL AND pid NOT IN (SELECT pid FROM writers)
    )
    SELECT coalesce(
        (SELECT min(x::text::bigint)
           FROM pg_snapshot_xip(pg_current_snapshot()) AS x
          WHERE (x::text::bigint % 4294967296) NOT IN (SELECT xid32 FROM idle_holders)),
        pg_snapshot_xmax(pg_current_snapshot())::text::bigint)
$$;

CREATE TABLE streams (
    id               BIGSERIAL PRIMARY KEY,
    name             TEXT    NOT NULL UNIQUE,
    last_revision    BIGINT,
    deleted          BOOLEAN NOT NULL DEFAULT false,
    truncate_before  BIGINT,
    max_count        BIGINT,
    max_age_ms       BIGINT
);

CREATE SEQUENCE events_seq;

CREATE TABLE events (
    -- The writing transaction's 64-bit id (xid8 as bigint) and a sequence number: the position.
    tx_id           BIGINT      NOT NULL,
    seq             BIGINT      NOT NULL,
    stream_id       BIGINT      NOT NULL REFERENCES streams (id),
    revision        BIGINT      NOT NULL,
    event_id        UUID        NOT NULL,
    event_type      TEXT        NOT NULL,
    data            JSON        NOT NULL,
    correlation_id  UUID        NOT NULL,
    causation_id    UUID        NOT NULL,
    actor_kind      TEXT        NOT NULL,
    actor_id        TEXT        NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    schema_version  INTEGER     NOT NULL,
    extra           JSON,
    recorded_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (tx_id, seq),
    UNIQUE (stream_id, revision),
    UNIQUE (event_id)
);

CREATE INDEX events_correlation ON events (correlation_id);

-- One round trip per append: lock (or create) the stream row, check the expected revision,
-- recognise a retried batch, insert, wake subscribers. Returns a status instead of raising, so
-- the caller can tell a conflict from a failure. It does not NOTIFY: a notifying transaction
-- holds a cluster-wide lock through its commit, which would serialise every append's fsync; the
-- adapter notifies after commit instead, coalesced (see postgres/mod.rs).
--   expected_kind: 'any' | 'no_stream' | 'stream_exists' | 'exact'
--   status: 'ok' | 'retry' (an identical batch is already stored: its original result) |
--           'wrong_version' | 'duplicate' (an id of the batch is stored, but not as this batch)
CREATE FUNCTION shop_append(
    p_stream TEXT,
    p_expected_kind TEXT,
    p_expected BIGINT,
    p_event_ids UUID[],
    p_event_types TEXT[],
    p_data TEXT[],
    p_correlation_ids UUID[],
    p_causation_ids UUID[],
    p_actor_kinds TEXT[],
    p_actor_ids TEXT[],
    p_occurred_at TIMESTAMPTZ[],
    p_schema_versions INTEGER[],
    p_extra TEXT[],
    OUT status TEXT,
    OUT actual BIGINT,
    OUT next_revision BIGINT,
    OUT pos_tx BIGINT,
    OUT pos_seq BIGINT
) LANGUAGE plpgsql AS $$
DECLARE
    v_stream streams%ROWTYPE;
    v_current BIGINT;
    v_accepts BOOLEAN;
    v_first RECORD;
    v_stored UUID[];
    v_n INTEGER := cardinality(p_event_ids);
    v_start BIGINT;
BEGIN
    -- Readers rely on every appending transaction holding the append lock from before it has a
    -- transaction id (see shop_frontier).
    IF pg_current_xact_id_if_assigned() IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM pg_locks
         WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted AND objsubid = 2
           AND classid::bigint = 1936224112 AND objid::bigint = shop_append_lock_key()) THEN
        RAISE EXCEPTION 'shop_append must come before any other write of its transaction'
            USING ERRCODE = 'invalid_transaction_state';
    END IF;
    PERFORM pg_advisory_xact_lock_shared(1936224112, shop_append_lock_key());
    SELECT * INTO v_stream FROM streams WHERE name = p_stream FOR UPDATE;
    IF NOT FOUND THEN
        IF p_expected_kind IN ('exact', 'stream_exists') THEN
            status := 'wrong_version';
            RETURN;
        END IF;
        -- Two creators race here: the loser waits on the unique index, then finds the row.
        INSERT INTO streams (name) VALUES (p_stream) ON CONFLICT (name) DO NOTHING;
        SELECT * INTO v_stream FROM streams WHERE name = p_stream FOR UPDATE;
    END IF;
    v_current := CASE WHEN v_stream.deleted THEN NULL ELSE v_stream.last_revision END;
    actual := v_current;
    v_accepts := CASE p_expected_kind
        WHEN 'any' THEN true
        WHEN 'no_stream' THEN v_current IS NULL
        WHEN 'stream_exists' THEN v_current IS NOT NULL
        ELSE v_current = p_expected
    END;
    v_accepts := coalesce(v_accepts, false);

    SELECT stream_id, revision INTO v_first FROM events WHERE event_id = p_event_ids[1];
    IF FOUND OR NOT v_accepts THEN
        IF FOUND AND v_first.stream_id = v_stream.id
           AND (p_expected_kind <> 'exact' OR v_first.revision = p_expected + 1) THEN
            SELECT array_agg(event_id ORDER BY revision) INTO v_stored
              FROM events
             WHERE stream_id = v_stream.id
               AND revision >= v_first.revision AND revision < v_first.revision + v_n;
            IF v_stored = p_event_ids THEN
                status := 'retry';
                next_revision := v_first.revision + v_n - 1;
                SELECT tx_id, seq INTO pos_tx, pos_seq
                  FROM events WHERE stream_id = v_stream.id AND revision = next_revision;
                RETURN;
            END IF;
        END IF;
        status := CASE WHEN v_accepts THEN 'duplicate' ELSE 'wrong_version' END;
        RETURN;
    END IF;

    v_start := coalesce(v_stream.last_revision + 1, 0);
    INSERT INTO events (tx_id, seq, stream_id, revision, event_id, event_type, data,
                        correlation_id, causation_id, actor_kind, actor_id, occurred_at,
                        schema_version, extra)
    SELECT pg_current_xact_id()::text::bigint, nextval('events_seq'), v_stream.id,
           v_start + t.ord - 1, t.event_id, t.event_type, t.data::json,
           t.correlation_id, t.causation_id, t.actor_kind, t.actor_id, t.occurred_at,
           t.schema_version, t.extra::json
      FROM (SELECT * FROM unnest(p_event_ids, p_event_types, p_data, p_correlation_ids,
                                 p_causation_ids, p_actor_kinds, p_actor_ids, p_occurred_at,
                                 p_schema_versions, p_extra)
                   WITH ORDINALITY AS u(event_id, event_type, data, correlation_id,
                                        causation_id, actor_kind, actor_id, occurred_at,
                                        schema_version, extra, ord)
             ORDER BY ord) t;

    next_revision := v_start + v_n - 1;
    UPDATE streams SET last_revision = next_revision, deleted = false WHERE id = v_stream.id;
    SELECT tx_id, seq INTO pos_tx, pos_seq
      FROM events WHERE stream_id = v_stream.id AND revision = next_revision;
    status := 'ok';
END;
$$;
