-- Every transaction that moves the log's head (its size, the digest index's size, the
-- latest checkpoint, the witnessed checkpoints) notifies channel notary_head, with a
-- payload such as 'log 1234' that is only a hint: a listener reads the head again. The
-- notification is sent at commit, so a listener never hears of a head before it can read it.
--
-- A listening session that stops reading (a stopped process) holds the server's
-- notification queue, and a full queue would make these commits fail: past half full the
-- triggers stop notifying, and the listeners fall back to reading the head now and then.
CREATE FUNCTION notary_notify_head() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF pg_notification_queue_usage() < 0.5 THEN
		PERFORM pg_notify('notary_head', TG_ARGV[0] || ' ' || NEW.size);
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER log_head_notify AFTER UPDATE ON log_head
	FOR EACH ROW WHEN (NEW.size <> OLD.size) EXECUTE FUNCTION notary_notify_head('log');
CREATE TRIGGER digest_index_head_notify AFTER UPDATE ON digest_index_head
	FOR EACH ROW WHEN (NEW.size <> OLD.size) EXECUTE FUNCTION notary_notify_head('index');
CREATE TRIGGER checkpoints_notify AFTER INSERT ON checkpoints
	FOR EACH ROW EXECUTE FUNCTION notary_notify_head('checkpoint');
CREATE TRIGGER witnessed_notify AFTER INSERT OR UPDATE ON witnessed
	FOR EACH ROW EXECUTE FUNCTION notary_notify_head('witnessed');
