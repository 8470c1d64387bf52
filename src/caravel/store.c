#include "caravel/store.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/enc.h"
#include "lib/fileio.h"
#include "lib/mem.h"

#define KEYFILE_MAX 4096
#define PROFILE_JSON_MAX (4u << 20)
#define NAMES_MAX 1024

const char *caravel_store_home(void)
{
	const char *h = getenv("CARAVEL_HOME");
	return h && *h ? h : CARAVEL_STORE_DEFAULT_HOME;
}

bool caravel_store_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > CARAVEL_STORE_NAME_MAX || name[0] == '.')
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' ||
		      *c == '_' || *c == '-'))
			return false;
	return true;
}

static int subdir(const char *home, const char *sub, char *out, size_t cap)
{
	if ((size_t)snprintf(out, cap, "%s/%s", home, sub) >= cap)
		return -ENAMETOOLONG;
	return fileio_mkdir_p(out, 0700);
}

static int keys_path(const char *home, char *out, size_t cap)
{
	int rc = fileio_mkdir_p(home, 0700);
	if (rc == 0 && (size_t)snprintf(out, cap, "%s/device.key", home) >= cap)
		rc = -ENAMETOOLONG;
	return rc;
}

int caravel_store_keys_load(const char *home, struct caravel_keys *k)
{
	char path[PATH_MAX];
	uint8_t *text = NULL;
	size_t len = 0;
	int rc, have = 0;
	memset(k, 0, sizeof(*k));
	if ((size_t)snprintf(path, sizeof(path), "%s/device.key", home) >= sizeof(path))
		return -ENAMETOOLONG;
	if ((rc = fileio_read_all(path, KEYFILE_MAX, &text, &len)) < 0)
		return rc;
	for (char *save = NULL, *line = strtok_r((char *)text, "\n", &save); line && rc == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "awg=", 4)) {
			rc = enc_key_from_base64(k->awg_sk, line + 4);
			have |= 1;
		} else if (!strncmp(line, "enc=", 4)) {
			rc = enc_key_from_base64(k->enc_sk, line + 4);
			have |= 2;
		} else if (!strncmp(line, "name=", 5)) {
			snprintf(k->name, sizeof(k->name), "%s", line + 5);
		}
	}
	if (rc == 0 && have != 3)
		rc = ERR_PARSE;
	if (rc < 0)
		sodium_memzero(k, sizeof(*k));
	mem_free_secret(text, len + 1);
	return rc;
}

int caravel_store_keys_save(const char *home, const struct caravel_keys *k)
{
	char path[PATH_MAX], a[ENC_KEY_BASE64_LEN], e[ENC_KEY_BASE64_LEN];
	struct buf b;
	int rc = keys_path(home, path, sizeof(path));
	if (rc < 0)
		return rc;
	if (access(path, F_OK) == 0)
		return ERR_EXISTS;
	buf_init(&b, KEYFILE_MAX);
	enc_key_to_base64(a, k->awg_sk);
	enc_key_to_base64(e, k->enc_sk);
	rc = buf_printf(&b, "awg=%s\nenc=%s\nname=%s\n", a, e, k->name);
	sodium_memzero(a, sizeof(a));
	sodium_memzero(e, sizeof(e));
	if (rc == 0)
		rc = fileio_write_atomic(path, b.data, b.len, 0600);
	buf_fini_secret(&b);
	return rc;
}

static int profile_path(const char *home, const char *name, char *out, size_t cap)
{
	char dir[PATH_MAX];
	if (!caravel_store_name_ok(name))
		return -EINVAL;
	int rc = subdir(home, "profiles", dir, sizeof(dir));
	if (rc == 0 && (size_t)snprintf(out, cap, "%s/%s.json", dir, name) >= cap)
		rc = -ENAMETOOLONG;
	return rc;
}

int caravel_store_profile_save(const char *home, const char *name, const char *json, size_t len)
{
	char path[PATH_MAX];
	int rc = profile_path(home, name, path, sizeof(path));
	return rc < 0 ? rc : fileio_write_atomic(path, json, len, 0600);
}

int caravel_store_profile_load(const char *home, const char *name, char **json, size_t *len)
{
	char path[PATH_MAX];
	*json = NULL;
	*len = 0;
	int rc = profile_path(home, name, path, sizeof(path));
	return rc < 0 ? rc : fileio_read_all(path, PROFILE_JSON_MAX, (uint8_t **)json, len);
}

int caravel_store_profile_remove(const char *home, const char *name)
{
	char path[PATH_MAX];
	int rc = profile_path(home, name, path, sizeof(path));
	if (rc == 0 && unlink(path) < 0)
		rc = -errno;
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void caravel_store_names_free(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++)
		mem_free(names[i]);
	mem_free(names);
}

int caravel_store_profile_names(const char *home, char ***names, size_t *n)
{
	char dir[PATH_MAX];
	char **v = NULL;
	size_t cnt = 0;
	*names = NULL;
	*n = 0;
	int rc = subdir(home, "profiles", dir, sizeof(dir));
	if (rc < 0)
		return rc;
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	if (!(v = mem_zalloc(NAMES_MAX * sizeof(*v))))
		rc = -ENOMEM;
	for (struct dirent *de; rc == 0 && (de = readdir(d));) {
		size_t l = strlen(de->d_name);
		if (l <= 5 || strcmp(de->d_name + l - 5, ".json"))
			continue;
		if (cnt == NAMES_MAX) {
			rc = ERR_TOOBIG;
			break;
		}
		if (!(v[cnt] = mem_dup(de->d_name, l - 4))) {
			rc = -ENOMEM;
			break;
		}
		v[cnt++][l - 5] = '\0';
	}
	closedir(d);
	if (rc < 0) {
		caravel_store_names_free(v, cnt);
		return rc;
	}
	qsort(v, cnt, sizeof(*v), cmp_str);
	*names = v;
	*n = cnt;
	return 0;
}

static int pin_path(const char *home, const char *fleet_id, char *out, size_t cap)
{
	char dir[PATH_MAX], hex[2 * 64 + 1];
	size_t l = strlen(fleet_id);
	if (l == 0 || l > 64 || enc_hex_encode(hex, sizeof(hex), (const uint8_t *)fleet_id, l) < 0)
		return -EINVAL;
	int rc = subdir(home, "pins", dir, sizeof(dir));
	if (rc == 0 && (size_t)snprintf(out, cap, "%s/%s", dir, hex) >= cap)
		rc = -ENAMETOOLONG;
	return rc;
}

int caravel_store_pin_get(const char *home, const char *fleet_id, uint8_t key[32])
{
	char path[PATH_MAX];
	uint8_t *text = NULL;
	size_t len = 0;
	int rc = pin_path(home, fleet_id, path, sizeof(path));
	if (rc == 0)
		rc = fileio_read_all(path, 256, &text, &len);
	if (rc == -ENOENT)
		return 0;
	if (rc == 0) {
		char *nl = strchr((char *)text, '\n');
		if (nl)
			*nl = '\0';
		rc = enc_key_from_base64(key, (const char *)text) < 0 ? ERR_PARSE : 1;
	}
	mem_free(text);
	return rc;
}

int caravel_store_pin_set(const char *home, const char *fleet_id, const uint8_t key[32])
{
	char path[PATH_MAX], b64[ENC_KEY_BASE64_LEN + 1];
	int rc = pin_path(home, fleet_id, path, sizeof(path));
	if (rc < 0)
		return rc;
	enc_key_to_base64(b64, key);
	strcat(b64, "\n");
	return fileio_write_atomic(path, b64, strlen(b64), 0600);
}
