#include "node/identity.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "awg/noise.h"
#include "lib/enc.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/mem.h"

#define KEY_FILE "awg.key"
#define OBF_FILE "awg-obf.conf"

static uint32_t uniform(uint32_t lo, uint32_t hi)
{
	return lo + randombytes_uniform(hi - lo + 1);
}

int node_identity_generate_obf(struct obf_params *p)
{
	static const char *const keys[] = { "jc", "jmin", "jmax", "s1", "s2", "s3", "s4", "h1", "h2", "h3", "h4" };
	char err[256];
	for (int attempt = 0; attempt < 1000; attempt++) {
		uint32_t v[11];
		v[0] = uniform(3, 10);
		v[1] = uniform(25, 75);
		v[2] = v[1] + uniform(700, 900);
		for (int i = 0; i < 3; i++)
			v[3 + i] = uniform(15, 150);
		v[6] = uniform(15, 48);
		for (int i = 0; i < 4; i++)
			v[7 + i] = uniform(5, INT32_MAX);
		struct obf_params tmp;
		obf_params_init(&tmp);
		int rc = 0;
		for (int i = 0; i < 11 && rc == 0; i++) {
			char val[16];
			snprintf(val, sizeof(val), "%u", v[i]);
			rc = obf_params_set(&tmp, keys[i], val, err, sizeof(err));
		}
		if (rc == 0 && obf_params_validate(&tmp, err, sizeof(err)) == 0) {
			obf_params_fini(p);
			*p = tmp;
			return 0;
		}
		obf_params_fini(&tmp);
	}
	return ERR_BADSTATE;
}

static int load_obf(const char *path, struct obf_params *p)
{
	uint8_t *data = NULL;
	size_t len;
	char err[256];
	int rc = fileio_read_all(path, 1 << 20, &data, &len);
	if (rc < 0)
		return rc;
	for (char *line = (char *)data, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!*line || *line == '#')
			continue;
		char *eq = strchr(line, '=');
		if (!eq) {
			log_error("%s: line \"%.40s\": expected key=value", path, line);
			rc = ERR_PARSE;
			break;
		}
		*eq = '\0';
		if ((rc = obf_params_set(p, line, eq + 1, err, sizeof(err))) < 0) {
			log_error("%s: %s", path, err);
			break;
		}
	}
	if (rc == 0 && (rc = obf_params_validate(p, err, sizeof(err))) < 0)
		log_error("%s: %s", path, err);
	mem_free(data);
	return rc;
}

int node_identity_load_or_create(const char *dir, struct node_identity *id, bool *created)
{
	char kpath[PATH_MAX], opath[PATH_MAX];
	uint8_t *data = NULL;
	size_t len;
	int rc;

	*created = false;
	memset(id, 0, sizeof(*id));
	obf_params_init(&id->obf);
	snprintf(kpath, sizeof(kpath), "%s/" KEY_FILE, dir);
	snprintf(opath, sizeof(opath), "%s/" OBF_FILE, dir);

	rc = fileio_read_all(kpath, 4096, &data, &len);
	if (rc == -ENOENT) {
		char b64[ENC_KEY_BASE64_LEN + 1];
		noise_generate_private(id->awg_private);
		enc_key_to_base64(b64, id->awg_private);
		b64[ENC_KEY_BASE64_LEN - 1] = '\n';
		rc = fileio_write_atomic(kpath, b64, ENC_KEY_BASE64_LEN, 0600);
		sodium_memzero(b64, sizeof(b64));
		if (rc < 0)
			goto fail;
		*created = true;
	} else if (rc == 0) {
		char *nl = memchr(data, '\n', len);
		if (nl)
			*nl = '\0';
		rc = enc_key_from_base64(id->awg_private, (char *)data);
		sodium_memzero(data, len);
		mem_free(data);
		if (rc < 0) {
			log_error("%s: not a base64 WireGuard private key", kpath);
			goto fail;
		}
	} else {
		goto fail;
	}
	if ((rc = noise_public_from_private(id->awg_public, id->awg_private)) < 0)
		goto fail;

	rc = load_obf(opath, &id->obf);
	if (rc == -ENOENT) {
		char text[4096];
		if ((rc = node_identity_generate_obf(&id->obf)) < 0)
			goto fail;
		int n = obf_params_format(&id->obf, text, sizeof(text));
		if (n < 0) {
			rc = n;
			goto fail;
		}
		if ((rc = fileio_write_atomic(opath, text, (size_t)n, 0600)) < 0)
			goto fail;
		*created = true;
	} else if (rc < 0) {
		goto fail;
	}
	return 0;
fail:
	node_identity_fini(id);
	return rc;
}

void node_identity_fini(struct node_identity *id)
{
	obf_params_fini(&id->obf);
	sodium_memzero(id->awg_private, sizeof(id->awg_private));
}
