/*
 * cox: the controller. One binary, table-driven subcommands (main.c). Every
 * command gets a struct cox; commands live one group per file (cmd_*.c) and
 * are listed in main.c's table with their usage and help.
 *
 * State directory (--state-dir, $COX_STATE_DIR, default /var/lib/pharos/cox):
 *   cox.conf            preset configuration, JSON, 0600 (config.c)
 *   cox.db              the store (src/store), SQLite WAL
 *   ca/                 root, Fleet and Device CA (src/pki pki_ca_save layout)
 *   controller.crt/.key the controller's client certificate (controller role)
 *   profile-signing.key Ed25519 secret key, 64 bytes raw, 0600
 *   ssh/id_ed25519      the controller's SSH key (src/sshc)
 *   lock                flock()ed by commands that touch files outside the db
 */
#ifndef PHAROS_COX_COX_H
#define PHAROS_COX_COX_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/err.h"

struct store;

#define COX_DEFAULT_STATE_DIR "/var/lib/pharos/cox"
#define COX_PATH_MAX 4096

enum cox_preset { COX_PRESET_PERSONAL, COX_PRESET_ENTERPRISE };

/* cox.conf. Presets differ only in these defaults (DESIGN.md §8). */
struct cox_config {
	enum cox_preset preset;
	char fleet_id[65];          /* random id naming this fleet in profiles */
	char fleet_name[65];
	char subnet4[64];           /* fleet subnet, default 10.86.0.0/16 */
	char subnet6[64];           /* ULA /48, random per fleet */
	bool proto_awg, proto_reality;
	bool rotation;              /* entry rotation in profiles */
	uint32_t rotation_interval, rotation_jitter; /* seconds */
	uint32_t audit_days, metrics_days;
	uint32_t sweep_seconds;     /* reconcile sweep, default 45 */
	uint32_t stale_seconds;     /* stale data-plane heal period, default 300 */
	uint32_t miss_limit;        /* misses before unreachable, default 3 */
	uint16_t node_control_port; /* default 8444 */
	uint16_t awg_port;          /* default 443 */
	char relay_mode[16];        /* "embedded" | "remote" */
	char dns[128];              /* DNS servers pushed in profiles, comma list */
};

struct cox {
	char state_dir[COX_PATH_MAX];
	struct cox_config cfg;
	bool cfg_loaded;
	struct store *st;           /* opened lazily by cox_store() */
	char actor[128];            /* who acts, for the audit chain: "cli:<user>" */
	bool json;                  /* --json output where supported */
	FILE *out, *err;
};

/* Path of a file in the state directory. Returns 0 or -ENAMETOOLONG. */
int cox_path(const struct cox *c, const char *name, char *buf, size_t cap) WUR;

/* Loads cox.conf (once) and opens the store (once); a state directory that
 * was never initialised gives a message naming `cox init`. */
int cox_load(struct cox *c) WUR;
int cox_store(struct cox *c, struct store **out) WUR;

/* Appends one audit row for this command's action (store_audit_append with
 * c->actor). detail is a short, non-secret JSON or text string. */
int cox_audit(struct cox *c, const char *action, const char *target, const char *detail) WUR;

/* Error reporting: prints "cox: <msg>" to c->err and returns 1 (the exit
 * status of a failed command). */
int cox_fail(struct cox *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* err_str, except that a store that stayed locked (-EBUSY: another cox
 * held the write lock past the busy timeout) is said in words. */
const char *cox_strerror(int r);

/* A subcommand: argv[0] is its own name ("add" for `cox users add`). Returns
 * the process exit status. */
typedef int (*cox_cmd_fn)(struct cox *c, int argc, char **argv);

struct cox_cmd {
	const char *name;
	cox_cmd_fn fn;
	const char *args;   /* usage after the name, lists every option */
	const char *help;   /* one line */
};

/* Runs a command group: looks argv[1] up in cmds (argv[0] is the group
 * name), prints the group's usage from the table on `help`, -h, --help or
 * an unknown name (quoting it). */
int cox_dispatch(struct cox *c, const char *group, const struct cox_cmd *cmds, size_t n, int argc, char **argv);

/* Command groups (one per file). */
int cox_cmd_users(struct cox *c, int argc, char **argv);   /* cmd_users.c */
int cox_cmd_devices(struct cox *c, int argc, char **argv); /* cmd_devices.c */
int cox_cmd_audit(struct cox *c, int argc, char **argv);   /* cmd_audit.c */
int cox_cmd_nodes(struct cox *c, int argc, char **argv);   /* cmd_nodes.c */
int cox_cmd_servers(struct cox *c, int argc, char **argv); /* cmd_nodes.c */
int cox_cmd_profile(struct cox *c, int argc, char **argv); /* cmd_profile.c */
int cox_cmd_init(struct cox *c, int argc, char **argv);    /* init.c */
int cox_cmd_ssh_key(struct cox *c, int argc, char **argv); /* cmd_nodes.c */
int cox_cmd_serve(struct cox *c, int argc, char **argv);   /* serve.c */

/* Called after any change that affects nodes (a device added/removed/
 * revoked, a node's endpoints or policy changed): bumps the intended revision
 * of the affected nodes and pushes to them at once (push.c). node_id NULL
 * means every node. Unreachable nodes are left to the reconcile sweep; the
 * command still succeeds and says so. */
int cox_push_nodes(struct cox *c, const char *node_id) WUR;

#endif
