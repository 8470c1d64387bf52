/* sshc: keys, host key pinning, sessions, commands and uploads over libssh.
 * Node installation lives in install.c. */
#include "sshc/sshc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libssh/libssh.h>
#include <libssh/sftp.h>
#include <sodium.h>

#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/mem.h"
#include "lib/text.h"

#define KEY_FILE_MAX  16384
#define CHUNK         32768
#define DEFAULT_TIMEOUT_MS 15000
#define RUN_TIMEOUT_MS     120000 /* sshc_run: install steps wait for daemons to stop */

struct sshc_key {
	ssh_key k;
};

struct sshc {
	ssh_session ss;
	int timeout_ms;
	bool key_changed;
	bool used_sftp;
	char fp[SSHC_FP_SIZE];
	char err[1024];
};

/* ---- messages ----------------------------------------------------------- */

static int fail(struct sshc *s, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct sshc *s, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	return rc;
}

void sshc_set_error(struct sshc *s, const char *fmt, ...)
{
	char msg[sizeof(s->err)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap); /* fmt may format s->err itself */
	va_end(ap);
	memcpy(s->err, msg, sizeof(msg));
}

const char *sshc_error(const struct sshc *s)
{
	return s->err;
}

const char *sshc_host_fingerprint(const struct sshc *s)
{
	return s->fp;
}

bool sshc_host_key_changed(const struct sshc *s)
{
	return s->key_changed;
}

bool sshc_used_sftp(const struct sshc *s)
{
	return s->used_sftp;
}

/* ---- keys --------------------------------------------------------------- */

int sshc_key_generate(struct sshc_key **out)
{
	*out = NULL;
	struct sshc_key *key = mem_zalloc(sizeof(*key));
	if (!key)
		return -ENOMEM;
	if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key->k) != SSH_OK) {
		mem_free(key);
		return ERR_CRYPTO;
	}
	*out = key;
	return 0;
}

int sshc_key_save(const struct sshc_key *key, const char *path)
{
	char *b64 = NULL;
	if (ssh_pki_export_privkey_base64(key->k, NULL, NULL, NULL, &b64) != SSH_OK)
		return ERR_CRYPTO;
	size_t len = strlen(b64);
	int rc = fileio_write_atomic(path, b64, len, 0600);
	sodium_memzero(b64, len);
	ssh_string_free_char(b64);
	return rc;
}

int sshc_key_load(const char *path, struct sshc_key **out)
{
	*out = NULL;
	uint8_t *data = NULL;
	size_t len = 0;
	struct sshc_key *key = NULL;
	int rc = fileio_read_all(path, KEY_FILE_MAX, &data, &len);
	if (rc < 0)
		goto out;
	key = mem_zalloc(sizeof(*key));
	if (!key) {
		rc = -ENOMEM;
		goto out;
	}
	if (ssh_pki_import_privkey_base64((const char *)data, NULL, NULL, NULL, &key->k) != SSH_OK ||
	    !ssh_key_is_private(key->k)) {
		rc = ERR_PARSE;
		goto out;
	}
	*out = key;
	key = NULL;
out:
	sshc_key_free(key);
	if (data)
		mem_free_secret(data, len + 1);
	return rc;
}

void sshc_key_free(struct sshc_key *key)
{
	if (!key)
		return;
	ssh_key_free(key->k);
	mem_free(key);
}

static bool comment_ok(const char *c)
{
	if (!*c || strlen(c) > 200)
		return false;
	for (; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			return false;
	return true;
}

int sshc_key_authorized_line(const struct sshc_key *key, const char *comment, char **out)
{
	*out = NULL;
	char host[256] = "", dflt[300];
	if (!comment) {
		if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
			snprintf(host, sizeof(host), "localhost");
		snprintf(dflt, sizeof(dflt), "pharos-cox@%s", host);
		comment = dflt;
	}
	if (!comment_ok(comment))
		return -EINVAL;
	char *b64 = NULL;
	if (ssh_pki_export_pubkey_base64(key->k, &b64) != SSH_OK)
		return ERR_CRYPTO;
	struct buf b;
	buf_init(&b, 4096);
	int rc = buf_printf(&b, "%s %s %s", ssh_key_type_to_char(ssh_key_type(key->k)), b64, comment);
	ssh_string_free_char(b64);
	if (rc < 0) {
		buf_fini(&b);
		return rc;
	}
	*out = (char *)b.data;
	return 0;
}

/* ---- pure helpers ------------------------------------------------------- */

void sshc_fingerprint_format(const uint8_t digest[32], char out[SSHC_FP_SIZE])
{
	memcpy(out, "SHA256:", 7);
	sodium_bin2base64(out + 7, SSHC_FP_SIZE - 7, digest, 32, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

bool sshc_fingerprint_valid(const char *s)
{
	uint8_t d[32];
	size_t n = 0;
	if (strncmp(s, "SHA256:", 7) || strlen(s) != SSHC_FP_SIZE - 1)
		return false;
	if (sodium_base642bin(d, sizeof(d), s + 7, SSHC_FP_SIZE - 8, NULL, &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0 || n != 32)
		return false;
	char again[SSHC_FP_SIZE];
	sshc_fingerprint_format(d, again);
	return !strcmp(again, s); /* the one canonical spelling */
}

int sshc_quote_append(struct buf *b, const char *arg)
{
	int rc = buf_append(b, "'", 1);
	for (const char *p = arg; rc == 0 && *p; p++)
		rc = *p == '\'' ? buf_append(b, "'\\''", 4) : buf_append(b, p, 1);
	return rc ? rc : buf_append(b, "'", 1);
}

int sshc_quote_argv(struct buf *b, const char *const *argv, size_t n)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (i)
			rc = buf_append(b, " ", 1);
		if (!rc)
			rc = sshc_quote_append(b, argv[i]);
	}
	return rc;
}

/* ---- sessions ----------------------------------------------------------- */

int sshc_new(struct sshc **out)
{
	*out = mem_zalloc(sizeof(**out));
	if (!*out)
		return -ENOMEM;
	(*out)->timeout_ms = DEFAULT_TIMEOUT_MS;
	return 0;
}

void sshc_disconnect(struct sshc *s)
{
	if (!s->ss)
		return;
	ssh_disconnect(s->ss);
	ssh_free(s->ss);
	s->ss = NULL;
}

void sshc_free(struct sshc *s)
{
	if (!s)
		return;
	sshc_disconnect(s);
	mem_free(s);
}

static bool host_ok(const char *h)
{
	if (!h || !*h || strlen(h) > 253)
		return false;
	for (; *h; h++)
		if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9') ||
		      strchr(".-:_%", *h)))
			return false;
	return true;
}

static bool user_ok(const char *u)
{
	if (!u || !*u || strlen(u) > 64 || *u == '-')
		return false;
	for (; *u; u++)
		if (!((*u >= 'a' && *u <= 'z') || (*u >= 'A' && *u <= 'Z') || (*u >= '0' && *u <= '9') ||
		      strchr("._-$", *u)))
			return false;
	return true;
}

/* TCP, key exchange and the host key check; no authentication yet. */
static int open_session(struct sshc *s, const struct sshc_target *t)
{
	sshc_disconnect(s);
	s->err[0] = s->fp[0] = '\0';
	s->key_changed = false;
	if (!host_ok(t->host))
		return fail(s, -EINVAL, "invalid host \"%s\": expected a host name or an IP address",
			    t->host ? t->host : "");
	if (!user_ok(t->user))
		return fail(s, -EINVAL, "invalid user \"%s\": expected 1-64 of A-Z a-z 0-9 . _ -",
			    t->user ? t->user : "");
	if (t->pinned_fp && *t->pinned_fp && !sshc_fingerprint_valid(t->pinned_fp))
		return fail(s, -EINVAL, "invalid pinned fingerprint \"%s\": expected SHA256: and 43 base64 characters",
			    t->pinned_fp);
	s->timeout_ms = t->timeout_ms > 0 ? t->timeout_ms : DEFAULT_TIMEOUT_MS;
	unsigned port = t->port ? t->port : 22;
	long tmo_s = (s->timeout_ms + 999) / 1000;
	int no = 0;
	ssh_key srv = NULL;
	unsigned char *hash = NULL;
	size_t hlen = 0;
	int rc = 0;

	s->ss = ssh_new();
	if (!s->ss)
		return fail(s, -ENOMEM, "out of memory");
	/* No ~/.ssh/config, no known_hosts: pins are the caller's. */
	if (ssh_options_set(s->ss, SSH_OPTIONS_PROCESS_CONFIG, &no) < 0 ||
	    ssh_options_set(s->ss, SSH_OPTIONS_HOST, t->host) < 0 ||
	    ssh_options_set(s->ss, SSH_OPTIONS_PORT, &port) < 0 ||
	    ssh_options_set(s->ss, SSH_OPTIONS_USER, t->user) < 0 ||
	    ssh_options_set(s->ss, SSH_OPTIONS_TIMEOUT, &tmo_s) < 0 ||
	    ssh_options_set(s->ss, SSH_OPTIONS_KNOWNHOSTS, "/dev/null") < 0 ||
	    ssh_options_set(s->ss, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null") < 0) {
		rc = fail(s, -EINVAL, "%s: %s", t->host, ssh_get_error(s->ss));
		goto out;
	}
	if (ssh_connect(s->ss) != SSH_OK) {
		const char *e = ssh_get_error(s->ss);
		rc = strstr(e, "imeout") ? -ETIMEDOUT : strstr(e, "refused") ? -ECONNREFUSED : -EHOSTUNREACH;
		rc = fail(s, rc, "connecting to %s port %u: %s", t->host, port, e);
		goto out;
	}
	if (ssh_get_server_publickey(s->ss, &srv) != SSH_OK ||
	    ssh_get_publickey_hash(srv, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) != 0 || hlen != 32) {
		rc = fail(s, ERR_PROTO, "%s: no usable host key: %s", t->host, ssh_get_error(s->ss));
		goto out;
	}
	sshc_fingerprint_format(hash, s->fp);
	if (t->pinned_fp && *t->pinned_fp && strcmp(t->pinned_fp, s->fp)) {
		s->key_changed = true;
		rc = fail(s, ERR_AUTH,
			  "HOST KEY CHANGED for %s port %u: pinned %s, server now presents %s. Refusing to connect: "
			  "this is either a reinstalled host or someone in the middle. If the host was reinstalled, "
			  "check the new key on its console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and "
			  "re-pin it (forget the old pin), then retry.",
			  t->host, port, t->pinned_fp, s->fp);
		goto out;
	}
out:
	if (hash)
		ssh_clean_pubkey_hash(&hash);
	ssh_key_free(srv);
	if (rc < 0) {
		ssh_free(s->ss);
		s->ss = NULL;
	}
	return rc;
}

int sshc_connect(struct sshc *s, const struct sshc_target *t, const struct sshc_key *key)
{
	int rc = open_session(s, t);
	if (rc < 0)
		return rc;
	if (ssh_userauth_publickey(s->ss, NULL, key->k) != SSH_AUTH_SUCCESS) {
		rc = fail(s, ERR_AUTH, "%s@%s refused the controller's key (%s); install it with a one-time "
			  "password bootstrap or add `cox ssh-key` to ~%s/.ssh/authorized_keys",
			  t->user, t->host, ssh_get_error(s->ss), t->user);
		sshc_disconnect(s);
	}
	return rc;
}

/* Password, or keyboard-interactive with a single echo-off prompt. */
static int auth_password(struct sshc *s, const char *pw)
{
	if (ssh_userauth_none(s->ss, NULL) == SSH_AUTH_SUCCESS)
		return 0;
	int methods = ssh_userauth_list(s->ss, NULL);
	if ((methods & SSH_AUTH_METHOD_PASSWORD) && ssh_userauth_password(s->ss, NULL, pw) == SSH_AUTH_SUCCESS)
		return 0;
	if (methods & SSH_AUTH_METHOD_INTERACTIVE) {
		int r = ssh_userauth_kbdint(s->ss, NULL, NULL);
		for (int rounds = 0; r == SSH_AUTH_INFO && rounds < 4; rounds++) {
			int n = ssh_userauth_kbdint_getnprompts(s->ss);
			for (int i = 0; i < n; i++) {
				char echo = 0;
				ssh_userauth_kbdint_getprompt(s->ss, (unsigned)i, &echo);
				if (echo || ssh_userauth_kbdint_setanswer(s->ss, (unsigned)i, pw) < 0)
					return ERR_AUTH;
			}
			r = ssh_userauth_kbdint(s->ss, NULL, NULL);
		}
		if (r == SSH_AUTH_SUCCESS)
			return 0;
	}
	return ERR_AUTH;
}

/* The remote half of installing a public key: idempotent, and it repairs a
 * last line without its newline before appending. */
static const char AUTHORIZE_SH[] =
	"set -e; umask 077; d=\"$HOME/.ssh\"; f=\"$d/authorized_keys\"; "
	"mkdir -p \"$d\"; chmod 700 \"$d\"; touch \"$f\"; chmod 600 \"$f\"; "
	"if ! grep -qxF \"$K\" \"$f\"; then "
	"if [ -s \"$f\" ] && [ -n \"$(tail -c 1 \"$f\")\" ]; then echo >> \"$f\"; fi; "
	"printf '%s\\n' \"$K\" >> \"$f\"; fi";

int sshc_bootstrap_password(struct sshc *s, const struct sshc_target *t, char *password, size_t len,
			    const struct sshc_key *key)
{
	char *line = NULL;
	struct buf cmd, pw;
	buf_init(&cmd, 8192);
	buf_init(&pw, 4096);
	int rc = sshc_key_authorized_line(key, NULL, &line);
	if (rc < 0) {
		fail(s, rc, "cannot format the controller's public key: %s", err_str(rc));
		goto out;
	}
	if (!password || !len || memchr(password, '\0', len)) {
		rc = fail(s, -EINVAL, "the one-time password is empty or holds a NUL byte");
		goto out;
	}
	/* A NUL-terminated private copy (the caller's need not be). */
	if ((rc = buf_append(&pw, password, len)) < 0) {
		fail(s, rc, "the one-time password is too long (at most 4096 bytes)");
		goto out;
	}
	sodium_memzero(password, len);
	rc = open_session(s, t);
	if (rc < 0)
		goto out;
	rc = auth_password(s, (const char *)pw.data);
	buf_fini_secret(&pw);
	if (rc < 0) {
		fail(s, rc, "%s@%s: password authentication failed (%s)", t->user, t->host, ssh_get_error(s->ss));
		sshc_disconnect(s);
		goto out;
	}
	if ((rc = buf_printf(&cmd, "K=")) < 0 || (rc = sshc_quote_append(&cmd, line)) < 0 ||
	    (rc = buf_printf(&cmd, "; %s", AUTHORIZE_SH)) < 0)
		goto out;
	rc = sshc_run(s, "installing the controller's key", (const char *)cmd.data, NULL);
	sshc_disconnect(s);
	if (rc < 0)
		goto out;
	struct sshc_target again = *t;
	char pin[SSHC_FP_SIZE];
	memcpy(pin, s->fp, sizeof(pin));
	again.pinned_fp = pin;
	rc = sshc_connect(s, &again, key);
	if (rc < 0)
		fail(s, rc, "the key was installed but key authentication still fails: %s", sshc_error(s));
out:
	if (password)
		sodium_memzero(password, len);
	buf_fini_secret(&pw);
	buf_fini(&cmd);
	mem_free(line);
	return rc;
}

/* ---- commands ----------------------------------------------------------- */

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sshc_result_fini(struct sshc_result *r)
{
	mem_free(r->out);
	mem_free(r->err);
	memset(r, 0, sizeof(*r));
	r->status = -1;
}

/* Appends what fits; more than the cap is read and dropped. */
static int keep(struct buf *b, const char *p, size_t n, bool *truncated)
{
	size_t room = b->max - b->len;
	if (n > room) {
		*truncated = true;
		n = room;
	}
	return n ? buf_append(b, p, n) : 0;
}

static int take(struct buf *b, char **out, size_t *len)
{
	if (!b->data && buf_reserve(b, 0) < 0)
		return -ENOMEM;
	if (!b->data) { /* a zero-byte reserve allocates nothing: make "" */
		*out = mem_strdup("");
		*len = 0;
		return *out ? 0 : -ENOMEM;
	}
	*out = (char *)b->data;
	*len = b->len;
	b->data = NULL;
	return 0;
}

/* Writes a source into an open channel: a buffer or (fd >= 0) a file. */
struct source {
	const uint8_t *data;
	size_t len;
	int fd;
};

static int source_read(struct source *src, uint8_t *chunk, size_t cap, size_t *n)
{
	if (src->fd < 0) {
		*n = src->len < cap ? src->len : cap;
		memcpy(chunk, src->data, *n);
		src->data += *n;
		src->len -= *n;
		return 0;
	}
	ssize_t r;
	do
		r = read(src->fd, chunk, cap);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	*n = (size_t)r;
	return 0;
}

/* Copies all of src through put, CHUNK bytes at a time. */
typedef int (*sink_fn)(struct sshc *s, void *dst, const uint8_t *p, size_t n);

static int pump(struct sshc *s, struct source *src, uint8_t *chunk, sink_fn put, void *dst)
{
	for (;;) {
		size_t n = 0;
		int rc = source_read(src, chunk, CHUNK, &n);
		if (rc < 0)
			return fail(s, rc, "reading the data to send: %s", strerror(-rc));
		if (!n)
			return 0;
		if ((rc = put(s, dst, chunk, n)) < 0)
			return rc;
	}
}

static int put_channel(struct sshc *s, void *dst, const uint8_t *p, size_t n)
{
	if (ssh_channel_write(dst, p, (uint32_t)n) != (int)n)
		return fail(s, -EIO, "sending data: %s", ssh_get_error(s->ss));
	return 0;
}

static int exec_src(struct sshc *s, const char *cmd, struct source *src, int timeout_ms, size_t max_out,
		    struct sshc_result *r)
{
	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (!s->ss)
		return fail(s, -ENOTCONN, "not connected");
	if (!max_out)
		max_out = SSHC_OUTPUT_MAX;
	long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : s->timeout_ms);
	struct buf out, err;
	buf_init(&out, max_out);
	buf_init(&err, max_out);
	uint8_t *chunk = mem_alloc(CHUNK);
	int rc = 0;
	ssh_channel ch = ssh_channel_new(s->ss);
	if (!chunk || !ch) {
		rc = fail(s, -ENOMEM, "out of memory");
		goto out;
	}
	if (ssh_channel_open_session(ch) != SSH_OK || ssh_channel_request_exec(ch, cmd) != SSH_OK) {
		rc = fail(s, ERR_PROTO, "cannot start a command: %s", ssh_get_error(s->ss));
		goto out;
	}
	if (src && (rc = pump(s, src, chunk, put_channel, ch)) < 0)
		goto out;
	ssh_channel_send_eof(ch);
	for (;;) {
		bool got = false;
		for (int e = 0; e <= 1; e++) {
			int n = ssh_channel_read_nonblocking(ch, chunk, CHUNK, e);
			if (n == SSH_ERROR) {
				rc = fail(s, -EIO, "reading command output: %s", ssh_get_error(s->ss));
				goto out;
			}
			if (n > 0) {
				got = true;
				if ((rc = keep(e ? &err : &out, (char *)chunk, (size_t)n, &r->truncated)) < 0)
					goto out;
			}
		}
		if (!got && ssh_channel_is_eof(ch))
			break;
		long long left = deadline - now_ms();
		if (left <= 0) {
			rc = fail(s, -ETIMEDOUT, "the command did not finish in time");
			goto out;
		}
		if (!got && ssh_channel_poll_timeout(ch, left < 100 ? (int)left : 100, 0) == SSH_ERROR) {
			rc = fail(s, -EIO, "waiting for command output: %s", ssh_get_error(s->ss));
			goto out;
		}
	}
	/* The exit status may arrive after EOF: ask before closing, as libssh
	 * stops waiting for it once the channel is closed. */
	r->status = ssh_channel_get_exit_status(ch);
	ssh_channel_close(ch);
	if ((rc = take(&out, &r->out, &r->out_len)) < 0 || (rc = take(&err, &r->err, &r->err_len)) < 0)
		fail(s, rc, "out of memory");
out:
	if (ch)
		ssh_channel_free(ch);
	mem_free(chunk);
	buf_fini(&out);
	buf_fini(&err);
	return rc;
}

int sshc_exec(struct sshc *s, const char *cmd, const void *input, size_t input_len, int timeout_ms, size_t max_out,
	      struct sshc_result *r)
{
	struct source src = { .data = input, .len = input_len, .fd = -1 };
	return exec_src(s, cmd, input ? &src : NULL, timeout_ms, max_out, r);
}

static void trim(char *p, size_t *len)
{
	while (*len && (p[*len - 1] == '\n' || p[*len - 1] == '\r' || p[*len - 1] == ' '))
		p[--*len] = '\0';
}

int sshc_run(struct sshc *s, const char *what, const char *cmd, struct sshc_result *out)
{
	struct sshc_result r;
	int rc = sshc_exec(s, cmd, NULL, 0, s->timeout_ms > RUN_TIMEOUT_MS ? s->timeout_ms : RUN_TIMEOUT_MS, 0, &r);
	if (rc < 0) {
		char msg[sizeof(s->err)];
		snprintf(msg, sizeof(msg), "%s", s->err);
		fail(s, rc, "%s: %s", what, msg);
	} else if (r.status != 0) {
		char q[TEXT_QUOTE_BUF(400)];
		trim(r.err, &r.err_len);
		if (!r.err_len)
			trim(r.out, &r.out_len);
		text_quote(q, 400, r.err_len ? r.err : r.out, r.err_len ? r.err_len : r.out_len);
		rc = fail(s, -EIO, "%s: exit status %d: %s", what, r.status, q);
	}
	if (out && rc == 0)
		*out = r;
	else
		sshc_result_fini(&r);
	return rc;
}

/* ---- uploads ------------------------------------------------------------ */

/* The temporary name beside path: ".<base>.sshc-<16 hex>". */
static int temp_name(const char *path, char *out, size_t cap)
{
	uint8_t rnd[8];
	char hex[17];
	const char *slash = strrchr(path, '/');
	if (!slash || !slash[1])
		return -EINVAL;
	randombytes_buf(rnd, sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	int n = snprintf(out, cap, "%.*s.%s.sshc-%s", (int)(slash - path + 1), path, slash + 1, hex);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int sftp_errno(sftp_session sf)
{
	switch (sftp_get_error(sf)) {
	case SSH_FX_NO_SUCH_FILE:
		return -ENOENT;
	case SSH_FX_PERMISSION_DENIED:
		return -EACCES;
	case SSH_FX_FILE_ALREADY_EXISTS:
		return -EEXIST;
	default:
		return -EIO;
	}
}

static int put_sftp_file(struct sshc *s, void *dst, const uint8_t *p, size_t n)
{
	sftp_file f = dst;
	if (sftp_write(f, p, n) != (ssize_t)n)
		return fail(s, -EIO, "writing over SFTP: %s", ssh_get_error(s->ss));
	return 0;
}

/* Over SFTP into tmp; 1 if the server has no SFTP subsystem. */
static int put_sftp(struct sshc *s, struct source *src, const char *tmp, unsigned mode)
{
	sftp_session sf = sftp_new(s->ss); /* NULL also when the subsystem request is refused */
	sftp_file f = NULL;
	uint8_t *chunk = NULL;
	int rc = 0;
	if (!sf)
		return ssh_is_connected(s->ss) ? 1 : fail(s, -EIO, "starting SFTP: %s", ssh_get_error(s->ss));
	if (sftp_init(sf) != SSH_OK) {
		sftp_free(sf);
		return 1;
	}
	chunk = mem_alloc(CHUNK);
	if (!chunk) {
		rc = fail(s, -ENOMEM, "out of memory");
		goto out;
	}
	f = sftp_open(sf, tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (!f) {
		rc = sftp_errno(sf);
		fail(s, rc, "creating %s: %s", tmp, ssh_get_error(s->ss));
		goto out;
	}
	if ((rc = pump(s, src, chunk, put_sftp_file, f)) < 0)
		goto out;
	rc = sftp_close(f) == SSH_NO_ERROR ? 0 : -EIO;
	f = NULL;
	if (rc == 0 && sftp_chmod(sf, tmp, mode) < 0)
		rc = sftp_errno(sf);
	if (rc < 0)
		fail(s, rc, "finishing %s: %s", tmp, ssh_get_error(s->ss));
out:
	if (f)
		sftp_close(f);
	if (rc < 0)
		sftp_unlink(sf, tmp);
	sftp_free(sf);
	mem_free(chunk);
	return rc;
}

static int upload_src(struct sshc *s, struct source *src, const char *remote_path, unsigned mode)
{
	char tmp[PATH_MAX], m[8];
	struct buf cmd;
	buf_init(&cmd, 3 * PATH_MAX + 256);
	struct sshc_result r = { 0 };
	int rc;
	if (!s->ss)
		return fail(s, -ENOTCONN, "not connected");
	if (remote_path[0] != '/' || mode > 07777 || (rc = temp_name(remote_path, tmp, sizeof(tmp))) < 0)
		return fail(s, -EINVAL, "invalid upload target \"%s\" (an absolute file path and a mode up to 07777)",
			    remote_path);
	snprintf(m, sizeof(m), "%04o", mode);
	rc = put_sftp(s, src, tmp, mode);
	s->used_sftp = rc <= 0;
	if (rc < 0)
		goto out;
	if (rc == 1) { /* no SFTP: cat over exec, created 0600 then chmod */
		if ((rc = buf_printf(&cmd, "umask 077 && T=")) < 0 || (rc = sshc_quote_append(&cmd, tmp)) < 0 ||
		    (rc = buf_printf(&cmd, " && cat > \"$T\" && chmod %s \"$T\" || { rm -f \"$T\"; exit 1; }", m)) < 0)
			goto out;
		rc = exec_src(s, (const char *)cmd.data, src, s->timeout_ms * 20, 4096, &r);
		if (rc == 0 && r.status != 0) {
			char q[TEXT_QUOTE_BUF(300)];
			rc = fail(s, -EIO, "writing %s over exec: %s", tmp, text_quote(q, 300, r.err, r.err_len));
		}
		if (rc < 0)
			goto out;
		buf_reset(&cmd);
	}
	if ((rc = buf_printf(&cmd, "mv -f ")) < 0 || (rc = sshc_quote_argv(&cmd, (const char *[]){ tmp, remote_path }, 2)) < 0 ||
	    (rc = buf_printf(&cmd, " || { rm -f ")) < 0 || (rc = sshc_quote_append(&cmd, tmp)) < 0 ||
	    (rc = buf_printf(&cmd, "; exit 1; }")) < 0)
		goto out;
	rc = sshc_run(s, "renaming the uploaded file into place", (const char *)cmd.data, NULL);
out:
	sshc_result_fini(&r);
	buf_fini(&cmd);
	return rc;
}

int sshc_upload(struct sshc *s, const void *data, size_t len, const char *remote_path, unsigned mode)
{
	struct source src = { .data = data, .len = len, .fd = -1 };
	return upload_src(s, &src, remote_path, mode);
}

int sshc_upload_file(struct sshc *s, const char *local_path, const char *remote_path, unsigned mode)
{
	struct source src = { .fd = open(local_path, O_RDONLY | O_CLOEXEC) };
	if (src.fd < 0)
		return fail(s, -errno, "%s: %s", local_path, strerror(errno));
	int rc = upload_src(s, &src, remote_path, mode);
	close(src.fd);
	return rc;
}
