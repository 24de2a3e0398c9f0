CREATE TABLE `usage_daily_models` (
	`tenant_id` text NOT NULL,
	`day` text NOT NULL,
	`model` text NOT NULL,
	`input_tokens` integer NOT NULL,
	`output_tokens` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `day`, `model`)
);
