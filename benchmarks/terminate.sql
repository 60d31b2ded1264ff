-- The cancellation transaction in raw SQL: the physical ceiling `make bench` compares the
-- service with. Run by bench_service.py as
--   pgbench -n -f benchmarks/terminate.sql -c 8 -j 2 -T 15 xiaohu_bench_pgbench
-- on the scratch schema it creates (1,000,000 rows in `sub`; `refund.idempotency_key` UNIQUE).
\set id random(1, 1000000)
BEGIN;
SELECT status, version FROM sub WHERE id = :id FOR UPDATE;
UPDATE sub SET status = 'terminated', version = version + 1, updated_at = now() WHERE id = :id;
INSERT INTO audit_log (sub_id, action, payload, at)
  VALUES (:id, 'terminate', '{"reason": "customer_request"}', now());
INSERT INTO outbox (aggregate_id, event_type, payload, created_at)
  VALUES (:id, 'ProductStateChangeEvent', '{"status": "terminated"}', now());
INSERT INTO refund (sub_id, amount_cents, idempotency_key, status)
  VALUES (:id, 1234, md5(random()::text || :id), 'pending');
END;
