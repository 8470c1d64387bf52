/* sshc: the controller's SSH client (libssh), for installing and updating
 * nodes. SSH is used for install and update only (DESIGN.md §5.6).
 *
 * Keys: the controller has one Ed25519 key (OpenSSH format, 0600).
 * Host keys: pinned by SHA-256 fingerprint ("SHA256:" + unpadded base64, as
 * ssh-keygen -l prints it), trust on first use. The caller stores pins (in
 * its database); no known_hosts file is read or written.
 * Commands: every remote command is POSIX sh text; arguments are single-
 * quoted with sshc_quote_append, never pasted in raw.
 *
 * Every fallible function returns 0 or a negative errno / ERR_* code; the
 * functions taking a struct sshc also leave a human-readable message in
 * sshc_error() (quoting the server's stderr where there is one). */
#ifndef PHAROS_SSHC_H
#define PHAROS_SSHC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

struct buf;

/* ---- the controller's key ----------------------------------------------- */

struct sshc_key;

/* A new Ed25519 key pair. */
int sshc_key_generate(struct sshc_key **out) WUR;
/* Writes the private key (OpenSSH format, no passphrase) to path, atomically
 * and 0600. */
int sshc_key_save(const struct sshc_key *key, const char *path) WUR;
/* Loads what sshc_key_save wrote (any unencrypted OpenSSH private key). */
int sshc_key_load(const char *path, struct sshc_key **out) WUR;
/* The authorized_keys line "ssh-ed25519 AAAA... COMMENT" in a new string
 * (mem_free). comment NULL means "pharos-cox@<this host's name>"; a comment
 * must be printable ASCII without newlines (-EINVAL otherwise). */
int sshc_key_authorized_line(const struct sshc_key *key, const char *comment, char **out) WUR;
/* Frees (libssh wipes the private half); NULL is a no-op. */
void sshc_key_free(struct sshc_key *key);

/* ---- fingerprints and quoting (pure) ------------------------------------ */

#define SSHC_FP_SIZE 51 /* "SHA256:" + 43 base64 characters + NUL */

/* Formats a SHA-256 digest as "SHA256:<unpadded base64>". */
void sshc_fingerprint_format(const uint8_t digest[32], char out[SSHC_FP_SIZE]);
/* Whether s is exactly such a fingerprint. */
bool sshc_fingerprint_valid(const char *s);

/* Appends arg to b as one POSIX sh word in single quotes ('it'\''s'). */
int sshc_quote_append(struct buf *b, const char *arg) WUR;
/* Appends argv[0..n) quoted and separated by spaces. */
int sshc_quote_argv(struct buf *b, const char *const *argv, size_t n) WUR;

/* ---- sessions ----------------------------------------------------------- */

struct sshc_target {
	const char *host;      /* name or address */
	uint16_t port;         /* 0: 22 */
	const char *user;      /* required */
	const char *pinned_fp; /* NULL or "": first use, anything is accepted */
	int timeout_ms;        /* connect and each blocking step; 0: 15000 */
};

struct sshc;

/* An unconnected handle: it carries the last error message and the server's
 * fingerprint across connection attempts. */
int sshc_new(struct sshc **out) WUR;
/* Frees and disconnects; NULL is a no-op. */
void sshc_free(struct sshc *s);
/* The last error message ("" if none). Failed node steps (sshc_node_*) leave
 * their message here too. */
const char *sshc_error(const struct sshc *s);
/* Sets that message (used by the node steps). */
void sshc_set_error(struct sshc *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The server's host key fingerprint seen by the last connection attempt
 * ("" before one got that far). On first use the caller records this. */
const char *sshc_host_fingerprint(const struct sshc *s);
/* Whether the last attempt was refused because the host key differs from
 * the pin (ERR_AUTH is returned then, with both fingerprints in the
 * message). */
bool sshc_host_key_changed(const struct sshc *s);

/* Connects, checks the host key against t->pinned_fp and authenticates with
 * key. Errors: -EINVAL (bad target), -ETIMEDOUT, -ECONNREFUSED and other
 * connect errnos, ERR_AUTH (host key changed, or the key was refused),
 * ERR_PROTO. A previous connection of s is closed first. */
int sshc_connect(struct sshc *s, const struct sshc_target *t, const struct sshc_key *key) WUR;
/* Closes the connection (the handle stays usable). */
void sshc_disconnect(struct sshc *s);

/* First contact with a fresh machine: connects with a one-time password
 * (password method, or keyboard-interactive answering its password prompt),
 * installs key into the remote user's ~/.ssh/authorized_keys (directory
 * 0700, file 0600, the line added once), disconnects, wipes password[0..len)
 * whatever happens, then connects again with the key alone, leaving s
 * connected so the caller can go on. The host key rules are sshc_connect's;
 * the second connection is pinned to what the first one saw. */
int sshc_bootstrap_password(struct sshc *s, const struct sshc_target *t, char *password, size_t len,
			    const struct sshc_key *key) WUR;

/* ---- commands and files ------------------------------------------------- */

struct sshc_result {
	int status;            /* the command's exit status; -1 if it reported none (killed by a signal) */
	char *out, *err;       /* NUL-terminated captured stdout/stderr (mem_free via sshc_result_fini) */
	size_t out_len, err_len;
	bool truncated;        /* output beyond the cap was read and dropped */
};

#define SSHC_OUTPUT_MAX (1u << 20)

/* Runs cmd (sh text) with input[0..input_len) on its stdin (then EOF),
 * capturing at most max_out bytes of each stream (0: SSHC_OUTPUT_MAX).
 * Returns 0 once the command ended (its status in r), -ETIMEDOUT if it did
 * not end within timeout_ms (0: the session's), or a transport error. r is
 * zeroed on entry; release it with sshc_result_fini in every case. */
int sshc_exec(struct sshc *s, const char *cmd, const void *input, size_t input_len, int timeout_ms, size_t max_out,
	      struct sshc_result *r) WUR;
void sshc_result_fini(struct sshc_result *r);
/* sshc_exec (no input, deadline 120 s or the session's if longer) that also
 * treats a non-zero exit status as failure (-EIO, with the command's stderr
 * in sshc_error); out may be NULL. what names the step in the message. */
int sshc_run(struct sshc *s, const char *what, const char *cmd, struct sshc_result *out) WUR;

/* Writes data[0..len) to remote_path with exactly mode: into a temporary
 * file in the same directory, then renamed over remote_path, so readers see
 * the old file or the new one. SFTP where the server offers it, otherwise
 * `cat >` over an exec channel. The directory must exist. */
int sshc_upload(struct sshc *s, const void *data, size_t len, const char *remote_path, unsigned mode) WUR;
/* The same from a local file, streamed. */
int sshc_upload_file(struct sshc *s, const char *local_path, const char *remote_path, unsigned mode) WUR;
/* Whether the last upload used SFTP (false: the exec fallback). */
bool sshc_used_sftp(const struct sshc *s);

/* ---- installing pharos-node --------------------------------------------- */

enum sshc_service {
	SSHC_SERVICE_AUTO = 0,   /* systemd when it runs on the host, else the supervisor */
	SSHC_SERVICE_SYSTEMD,
	SSHC_SERVICE_SUPERVISOR, /* a POSIX sh loop started with setsid, restarting on exit */
	SSHC_SERVICE_NONE,       /* (status) nothing installed */
};

#define SSHC_NODE_EXTRA_MAX 16

/* Where and how the node runs. NULL/0 fields take the defaults in brackets.
 * Paths are absolute and made of [A-Za-z0-9._/+-] with no "..";
 * extra_args of [A-Za-z0-9._/:=,@+-] (so both the unit file and the sh
 * script take them verbatim). */
struct sshc_node_cfg {
	const char *service_name;   /* [pharos-node]: unit name, pidfiles, supervisor script; [a-z0-9-] */
	const char *binary_path;    /* [/usr/local/bin/pharos-node] */
	const char *config_dir;     /* [/etc/pharos/node] */
	const char *run_dir;        /* [/run/pharos]: pidfiles */
	const char *log_dir;        /* [/var/log/pharos]: supervisor's log */
	const char *unit_dir;       /* [/etc/systemd/system] */
	const char *node_name;      /* gen-csr --name (CN asked for; the CA decides anyway) [host name] */
	const char *control_listen; /* --control-listen ADDR:PORT [agent default] */
	const char *interface;      /* --interface [agent default] */
	uint16_t port, port_hi;     /* --port P, or --ports P-HI when port_hi > port [agent default] */
	const char *extra_args[SSHC_NODE_EXTRA_MAX];
	size_t n_extra;
	enum sshc_service service;  /* for install [AUTO] */
	unsigned restart_max_s;     /* supervisor backoff cap [30]; it starts at 1 s and doubles */
};

/* Fills defaults and checks every field; -EINVAL with a message naming the
 * field and what would be valid in err[0..errlen). */
int sshc_node_cfg_check(const struct sshc_node_cfg *in, struct sshc_node_cfg *out, char *err, size_t errlen) WUR;
/* The pharos-node run command line as argv (pointers into cfg and static
 * strings); returns the count. argv must hold SSHC_NODE_ARGV_MAX. */
#define SSHC_NODE_ARGV_MAX (14 + SSHC_NODE_EXTRA_MAX)
size_t sshc_node_argv(const struct sshc_node_cfg *cfg, char portbuf[16], const char *argv[SSHC_NODE_ARGV_MAX]);
/* The systemd unit and the supervisor script for a checked cfg, appended to b. */
int sshc_node_render_unit(const struct sshc_node_cfg *cfg, struct buf *b) WUR;
int sshc_node_render_supervisor(const struct sshc_node_cfg *cfg, struct buf *b) WUR;

/* Progress of each step: its name, whether it worked, and a message. */
typedef void (*sshc_progress_fn)(void *arg, const char *step, bool ok, const char *msg);

/* Steps done so far (for rollback). */
enum {
	SSHC_DONE_BINARY = 1u << 0,
	SSHC_DONE_CONFIG_DIR = 1u << 1, /* created by gen-csr (it did not exist) */
	SSHC_DONE_CERTS = 1u << 2,
	SSHC_DONE_SERVICE = 1u << 3,
	SSHC_DONE_STARTED = 1u << 4,
};

/* One node operation run over a connected session. Set it up with
 * sshc_node_init, then call the steps in order; each reports through cb. */
struct sshc_node {
	struct sshc *s;               /* connected; borrowed */
	struct sshc_node_cfg cfg;     /* checked copy (pointers borrowed from the caller's cfg) */
	sshc_progress_fn cb;
	void *cb_arg;
	enum sshc_service service;    /* AUTO until sshc_node_preflight resolves it or a step detects it */
	unsigned done;                /* SSHC_DONE_* */
};

int sshc_node_init(struct sshc_node *n, struct sshc *s, const struct sshc_node_cfg *cfg, sshc_progress_fn cb,
		   void *cb_arg) WUR;
/* Checks the remote side (root, a POSIX shell, architecture) and resolves
 * the service kind (AUTO: systemd if /run/systemd/system exists and
 * systemctl answers). */
int sshc_node_preflight(struct sshc_node *n) WUR;
/* Uploads the local pharos-node binary to cfg.binary_path (0755) and checks
 * it runs (`pharos-node version`). */
int sshc_node_upload_binary(struct sshc_node *n, const char *local_path) WUR;
/* Runs gen-csr on the node: the TLS key stays there (0600); *csr is the PEM
 * (mem_free). */
int sshc_node_gen_csr(struct sshc_node *n, char **csr, size_t *csr_len) WUR;
/* Installs tls.crt (leaf + chain, 0644) and ca.crt (root, 0644). */
int sshc_node_install_certs(struct sshc_node *n, const char *cert_pem, size_t cert_len, const char *ca_pem,
			    size_t ca_len) WUR;
/* Writes the unit (and enables it) or the supervisor script. */
int sshc_node_install_service(struct sshc_node *n) WUR;
/* Start and stop are idempotent; stop waits for the agent to exit. */
int sshc_node_start(struct sshc_node *n) WUR;
int sshc_node_stop(struct sshc_node *n) WUR;

struct sshc_node_status {
	enum sshc_service service; /* what is installed (NONE: nothing) */
	bool running;
	long pid;                  /* the agent's pid, 0 if not running */
	long supervisor_pid;       /* supervisor only */
};
/* Detects what is installed from the files on the host (so it works from a
 * new session) and whether the agent runs. */
int sshc_node_status(struct sshc_node *n, struct sshc_node_status *st) WUR;
/* Uploads the new binary (atomically; the old one keeps running) then
 * restarts the service. */
int sshc_node_update(struct sshc_node *n, const char *local_path) WUR;
/* Stops the agent and removes the service, the binary, the config directory
 * (its keys included) and the log. */
int sshc_node_remove(struct sshc_node *n) WUR;
/* Undoes the steps in n->done, newest first, after a later step failed;
 * best effort: returns the first error but tries every step. */
int sshc_node_rollback(struct sshc_node *n) WUR;

const char *sshc_service_name(enum sshc_service s);

#endif
