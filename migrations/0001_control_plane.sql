CREATE TABLE `agent_secrets` (
	`tenant_id` text NOT NULL,
	`agent` text NOT NULL,
	`name` text NOT NULL,
	`sealed` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `agent`, `name`)
);
--> statement-breakpoint
CREATE TABLE `audit_log` (
	`id` text PRIMARY KEY NOT NULL,
	`at` integer NOT NULL,
	`actor` text NOT NULL,
	`tenant_id` text,
	`action` text NOT NULL,
	`target` text,
	`detail` text
);
--> statement-breakpoint
CREATE INDEX `audit_tenant_id` ON `audit_log` (`tenant_id`,`id`);--> statement-breakpoint
ALTER TABLE `agents` ADD `secrets_rev` integer DEFAULT 0 NOT NULL;