-- Retention: files that `ledgerflow artifacts gc` deleted stay in artifact_files, marked with the
-- `artifacts.collected` event that recorded their deletion (services/projector/handlers/
-- retention.py), so the history of what was stored is kept and `verify` does not report them as
-- missing. collected_at is that event's time in epoch ms, so a replay reproduces it.
ALTER TABLE artifact_files
    ADD COLUMN collected_at bigint,
    ADD COLUMN collected_by uuid,
    ADD CHECK ((collected_at IS NULL) = (collected_by IS NULL));

-- A path stored again after it was collected holds a live file again. The artifact.stored
-- projection replaces the row's event_id; this clears the collection mark on that change, so
-- that projection need not know about retention.
CREATE FUNCTION artifact_files_restored() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.collected_at := NULL;
    NEW.collected_by := NULL;
    RETURN NEW;
END
$$;
CREATE TRIGGER artifact_files_restored
    BEFORE UPDATE OF event_id ON artifact_files
    FOR EACH ROW WHEN (NEW.event_id IS DISTINCT FROM OLD.event_id)
    EXECUTE FUNCTION artifact_files_restored();

