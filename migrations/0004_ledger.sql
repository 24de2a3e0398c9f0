CREATE TABLE `usage` (
	`run_id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`agent` text NOT NULL,
	`version` integer NOT NULL,
	`status` text NOT NULL,
	`day` text NOT NULL,
	`hour` integer NOT NULL,
	`requests` integer NOT NULL,
	`wall_ms` integer NOT NULL,
	`cpu_ms` integer,
	`subrequests` integer NOT NULL,
	`input_tokens` integer NOT NULL,
	`output_tokens` integer NOT NULL,
	`model_usage` text NOT NULL,
	`storage_reads` integer NOT NULL,
	`storage_writes` integer NOT NULL,
	`bytes_read` integer NOT NULL,
	`bytes_written` integer NOT NULL,
	`recorded_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `usage_tenant_day` ON `usage` (`tenant_id`,`day`);--> statement-breakpoint
CREATE INDEX `usage_day` ON `usage` (`day`);--> statement-breakpoint
CREATE TABLE `usage_daily` (
	`tenant_id` text NOT NULL,
	`day` text NOT NULL,
	`runs` integer NOT NULL,
	`failures` integer NOT NULL,
	`wall_ms` integer NOT NULL,
	`cpu_ms` integer NOT NULL,
	`cpu_measured_runs` integer NOT NULL,
	`subrequests` integer NOT NULL,
	`input_tokens` integer NOT NULL,
	`output_tokens` integer NOT NULL,
	`storage_reads` integer NOT NULL,
	`storage_writes` integer NOT NULL,
	`bytes_read` integer NOT NULL,
	`bytes_written` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `day`)
);
--> statement-breakpoint
ALTER TABLE `runs` ADD `model_usage` text DEFAULT '{}' NOT NULL;