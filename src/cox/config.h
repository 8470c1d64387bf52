/* cox.conf: the preset configuration, JSON, 0600. */
#ifndef PHAROS_COX_CONFIG_H
#define PHAROS_COX_CONFIG_H

#include <stddef.h>

#include "cox/cox.h"

#define COX_CONFIG_FILE "cox.conf"
#define COX_DB_FILE "cox.db"
#define COX_CONFIG_MAX (64 * 1024)

/* Fills cfg with a preset's defaults, including a random fleet id and a
 * random IPv6 ULA /48 (RFC 4193). */
int cox_config_preset(enum cox_preset preset, struct cox_config *cfg) WUR;
const char *cox_preset_name(enum cox_preset preset);

/* Strict: unknown keys and out-of-range values are refused, naming the key.
 * -ENOENT when the file does not exist. */
int cox_config_load(const char *path, struct cox_config *cfg, char *err, size_t errlen) WUR;
int cox_config_parse(const char *text, size_t len, struct cox_config *cfg, char *err, size_t errlen) WUR;
int cox_config_save(const char *path, const struct cox_config *cfg) WUR;

#endif
