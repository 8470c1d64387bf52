# Store (src/store) extras, included by the top-level Makefile: the SQL
# migrations in src/store/migrations/NNNN_name.sql become one generated C
# file, $(OUT)/gen/store/migrations.c, linked into libstore.a. Generated code
# never lives in src/ (docs/STYLE.md).
STORE_SQL := $(sort $(wildcard src/store/migrations/*.sql))
STORE_GEN := $(OUT)/gen/store/migrations.c

$(STORE_GEN): $(STORE_SQL) scripts/embed-sql
	@mkdir -p $(@D)
	sh scripts/embed-sql $(STORE_SQL) > $@.tmp && mv $@.tmp $@

$(call modlib,store): $(OUT)/obj/$(STORE_GEN:.c=.o)
