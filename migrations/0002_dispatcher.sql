CREATE TABLE `run_events` (
	`run_id` text NOT NULL,
	`seq` integer NOT NULL,
	`at` integer NOT NULL,
	`type` text NOT NULL,
	`data` text,
	PRIMARY KEY(`run_id`, `seq`)
);
--> statement-breakpoint
CREATE TABLE `tenant_issuers` (
	`tenant_id` text PRIMARY KEY NOT NULL,
	`issuer` text NOT NULL,
	`jwks` text NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tenant_issuers_issuer` ON `tenant_issuers` (`issuer`);--> statement-breakpoint
ALTER TABLE `runs` ADD `subrequests` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `runs` ADD `end_user` text;--> statement-breakpoint
ALTER TABLE `tenants` ADD `egress_allow` text DEFAULT '[]' NOT NULL;