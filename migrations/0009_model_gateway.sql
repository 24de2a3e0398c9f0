CREATE TABLE `provider_keys` (
	`tenant_id` text NOT NULL,
	`provider` text NOT NULL,
	`sealed` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `provider`)
);
--> statement-breakpoint
ALTER TABLE `agents` ADD `default_model` text;--> statement-breakpoint
ALTER TABLE `tenants` ADD `default_model` text;--> statement-breakpoint
ALTER TABLE `usage_daily_models` ADD `tenant_input_tokens` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `usage_daily_models` ADD `tenant_output_tokens` integer DEFAULT 0 NOT NULL;