DROP TABLE `idempotency_keys`;--> statement-breakpoint
DROP TABLE `run_events`;--> statement-breakpoint
ALTER TABLE `tenants` ADD `retention_days` integer;--> statement-breakpoint
ALTER TABLE `tenants` ADD `queue_weight` integer;--> statement-breakpoint
ALTER TABLE `usage` ADD `batch_id` text;--> statement-breakpoint
CREATE INDEX `usage_batch` ON `usage` (`batch_id`);