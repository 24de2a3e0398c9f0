CREATE TABLE `storage_daily` (
	`tenant_id` text NOT NULL,
	`day` text NOT NULL,
	`bytes` integer NOT NULL,
	`objects` integer NOT NULL,
	`measured_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `day`)
);
