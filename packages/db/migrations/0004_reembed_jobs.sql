CREATE TABLE "reembed_jobs" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "reembed_jobs_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"collection_id" integer NOT NULL,
	"from_model" text NOT NULL,
	"from_dimensions" integer NOT NULL,
	"to_model" text NOT NULL,
	"to_dimensions" integer NOT NULL,
	"state" text DEFAULT 'filling' NOT NULL,
	"embedded" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "reembed_jobs_state_known" CHECK ("reembed_jobs"."state" in ('filling', 'switching', 'done', 'cancelled'))
);
--> statement-breakpoint
CREATE TABLE "reembed_vectors" (
	"job_id" integer NOT NULL,
	"document_id" uuid NOT NULL,
	"content_hash" text NOT NULL,
	"embedding" vector NOT NULL,
	CONSTRAINT "reembed_vectors_job_id_document_id_pk" PRIMARY KEY("job_id","document_id")
);
--> statement-breakpoint
ALTER TABLE "reembed_jobs" ADD CONSTRAINT "reembed_jobs_collection_id_collections_id_fk" FOREIGN KEY ("collection_id") REFERENCES "public"."collections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reembed_vectors" ADD CONSTRAINT "reembed_vectors_job_id_reembed_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."reembed_jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "reembed_jobs_one_unfinished_key" ON "reembed_jobs" USING btree ("collection_id") WHERE "reembed_jobs"."state" in ('filling', 'switching');