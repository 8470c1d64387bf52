/* `show`: what wg(8) show prints, plus the AmneziaWG parameters. The human
 * form hides private and preshared keys (WG_HIDE_KEYS=never shows them, as
 * with wg); the one-field forms and `dump` print what was asked for, in wg's
 * exact format so scripts written for `wg show` keep working. AmneziaWG
 * parameters are under `awg` (and jc, s1, h1, ... one at a time) rather
 * than in `dump`, whose columns wg users parse. */
#include <inttypes.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "awg/uapi_client.h"
#include "lib/enc.h"
#include "pharos-awg/cli.h"
#include "pharos-awg/ipc.h"

struct show_ctx {
	const char *prog;
	bool with_ifname; /* `show all <field>`: each line starts with the interface */
	bool show_keys;   /* WG_HIDE_KEYS=never */
	time_t now;
};

static const char *b64(const uint8_t key[UAPI_CLIENT_KEY_LEN], char out[ENC_KEY_BASE64_LEN])
{
	enc_key_to_base64(out, key);
	return out;
}

static const char *maybe_key(const uint8_t key[UAPI_CLIENT_KEY_LEN], bool have, char out[ENC_KEY_BASE64_LEN])
{
	return have ? b64(key, out) : "(none)";
}

/* "1 day, 2 hours, 5 seconds"; appends to buf at *off. */
static void span(char *buf, size_t cap, size_t *off, uint64_t left)
{
	static const struct { uint64_t secs; const char *unit; } units[] = {
		{ 365 * 24 * 3600, "year" }, { 24 * 3600, "day" }, { 3600, "hour" }, { 60, "minute" }, { 1, "second" },
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t n = left / units[i].secs;
		left %= units[i].secs;
		if (!n || *off >= cap)
			continue;
		int w = snprintf(buf + *off, cap - *off, "%s%" PRIu64 " %s%s", *off ? ", " : "", n, units[i].unit,
		                 n == 1 ? "" : "s");
		if (w > 0)
			*off += (size_t)w;
	}
}

static const char *ago(const struct show_ctx *c, int64_t sec, char *buf, size_t cap)
{
	size_t off = 0;
	if (c->now == sec)
		return "Now";
	if (c->now < sec)
		return "(System clock wound backward; connection problems may ensue.)";
	span(buf, cap, &off, (uint64_t)(c->now - sec));
	if (off < cap)
		snprintf(buf + off, cap - off, " ago");
	return buf;
}

static const char *bytes(uint64_t b, char *buf, size_t cap)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	if (b < 1024) {
		snprintf(buf, cap, "%" PRIu64 " B", b);
		return buf;
	}
	double v = (double)b / 1024;
	size_t u = 0;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(buf, cap, "%.2f %s", v, units[u]);
	return buf;
}

static void print_allowed_ips(const struct uapi_client_peer *p, const char *sep, const char *none)
{
	char ip[CIDR_STRLEN];
	if (!p->n_allowed_ips) {
		fputs(none, stdout);
		return;
	}
	for (size_t i = 0; i < p->n_allowed_ips; i++) {
		if (cidr_format(&p->allowed_ips[i], ip, sizeof(ip)) < 0)
			snprintf(ip, sizeof(ip), "(invalid)");
		printf("%s%s", i ? sep : "", ip);
	}
}

static const char *endpoint_text(const struct uapi_client_peer *p, char *buf, size_t cap)
{
	if (!p->has_endpoint || endpoint_format(&p->endpoint, buf, cap) < 0)
		return "(none)";
	return buf;
}

static void pretty_print(const struct show_ctx *c, struct uapi_client_device *dev)
{
	char k[ENC_KEY_BASE64_LEN], t[128], v[64];

	printf("interface: %s\n", dev->name);
	if (dev->has_private_key) {
		printf("  public key: %s\n", b64(dev->public_key, k));
		printf("  private key: %s\n", c->show_keys ? b64(dev->private_key, k) : "(hidden)");
	}
	if (dev->listen_port)
		printf("  listening port: %u\n", dev->listen_port);
	if (dev->fwmark)
		printf("  fwmark: 0x%" PRIx32 "\n", dev->fwmark);
	for (int key = 0; key < UAPI_CLIENT_AWG_COUNT; key++) {
		if (!uapi_client_awg_is_set(&dev->awg, key))
			continue;
		if (key >= UAPI_CLIENT_I1 && key <= UAPI_CLIENT_I5)
			printf("  %s: %s\n", uapi_client_awg_key_name(key), dev->awg.i[key - UAPI_CLIENT_I1]);
		else
			printf("  %s: %s\n", uapi_client_awg_key_name(key), uapi_client_awg_value(&dev->awg, key, v, sizeof(v)));
	}

	uapi_client_sort_peers(dev);
	for (size_t i = 0; i < dev->n_peers; i++) {
		const struct uapi_client_peer *p = &dev->peers[i];
		printf("\npeer: %s\n", b64(p->public_key, k));
		if (p->has_preshared_key)
			printf("  preshared key: %s\n", c->show_keys ? b64(p->preshared_key, k) : "(hidden)");
		if (p->has_endpoint)
			printf("  endpoint: %s\n", endpoint_text(p, t, sizeof(t)));
		printf("  allowed ips: ");
		print_allowed_ips(p, ", ", "(none)");
		putchar('\n');
		if (p->last_handshake_sec)
			printf("  latest handshake: %s\n", ago(c, p->last_handshake_sec, t, sizeof(t)));
		if (p->rx_bytes || p->tx_bytes) {
			printf("  transfer: %s received, ", bytes(p->rx_bytes, t, sizeof(t)));
			printf("%s sent\n", bytes(p->tx_bytes, t, sizeof(t)));
		}
		if (p->persistent_keepalive) {
			size_t off = 0;
			span(t, sizeof(t), &off, p->persistent_keepalive);
			printf("  persistent keepalive: every %s\n", t);
		}
	}
	sodium_memzero(k, sizeof(k));
}

static void prefix(const struct show_ctx *c, const struct uapi_client_device *dev)
{
	if (c->with_ifname)
		printf("%s\t", dev->name);
}

static void dump_print(const struct show_ctx *c, const struct uapi_client_device *dev)
{
	char k[ENC_KEY_BASE64_LEN], t[ENDPOINT_STRLEN];
	prefix(c, dev);
	printf("%s\t", maybe_key(dev->private_key, dev->has_private_key, k));
	printf("%s\t", maybe_key(dev->public_key, dev->has_private_key, k));
	printf("%u\t", dev->listen_port);
	if (dev->fwmark)
		printf("0x%" PRIx32 "\n", dev->fwmark);
	else
		printf("off\n");
	for (size_t i = 0; i < dev->n_peers; i++) {
		const struct uapi_client_peer *p = &dev->peers[i];
		prefix(c, dev);
		printf("%s\t", b64(p->public_key, k));
		printf("%s\t", maybe_key(p->preshared_key, p->has_preshared_key, k));
		printf("%s\t", endpoint_text(p, t, sizeof(t)));
		print_allowed_ips(p, ",", "(none)");
		printf("\t%" PRId64 "\t%" PRIu64 "\t%" PRIu64 "\t", p->last_handshake_sec, p->rx_bytes, p->tx_bytes);
		if (p->persistent_keepalive)
			printf("%u\n", p->persistent_keepalive);
		else
			printf("off\n");
	}
	sodium_memzero(k, sizeof(k));
}

static int awg_key_by_name(const char *name)
{
	for (int key = 0; key < UAPI_CLIENT_AWG_COUNT; key++)
		if (!strcmp(name, uapi_client_awg_key_name(key)))
			return key;
	return -1;
}

static const char *const fields[] = {
	"public-key", "private-key", "listen-port", "fwmark", "peers", "preshared-keys", "endpoints",
	"allowed-ips", "latest-handshakes", "persistent-keepalive", "transfer", "dump", "awg", NULL,
};

static bool field_valid(const char *f)
{
	for (size_t i = 0; fields[i]; i++)
		if (!strcmp(f, fields[i]))
			return true;
	return awg_key_by_name(f) >= 0;
}

/* One field, tab separated, like `wg show <if> <field>`. */
static void field_print(const struct show_ctx *c, const struct uapi_client_device *dev, const char *f)
{
	char k[ENC_KEY_BASE64_LEN], t[ENDPOINT_STRLEN];
	int awg = awg_key_by_name(f);

	if (!strcmp(f, "dump")) {
		dump_print(c, dev);
	} else if (!strcmp(f, "public-key")) {
		prefix(c, dev);
		printf("%s\n", maybe_key(dev->public_key, dev->has_private_key, k));
	} else if (!strcmp(f, "private-key")) {
		prefix(c, dev);
		printf("%s\n", maybe_key(dev->private_key, dev->has_private_key, k));
	} else if (!strcmp(f, "listen-port")) {
		prefix(c, dev);
		printf("%u\n", dev->listen_port);
	} else if (!strcmp(f, "fwmark")) {
		prefix(c, dev);
		if (dev->fwmark)
			printf("0x%" PRIx32 "\n", dev->fwmark);
		else
			printf("off\n");
	} else if (awg >= 0 || !strcmp(f, "awg")) {
		char v[256];
		for (int key = 0; key < UAPI_CLIENT_AWG_COUNT; key++) {
			bool is_i = key >= UAPI_CLIENT_I1 && key <= UAPI_CLIENT_I5;
			const char *val = is_i ? (dev->awg.i[key - UAPI_CLIENT_I1] ? dev->awg.i[key - UAPI_CLIENT_I1] : "")
			                       : uapi_client_awg_value(&dev->awg, key, v, sizeof(v));
			if (awg >= 0 && key == awg) {
				prefix(c, dev);
				printf("%s\n", val);
			} else if (awg < 0 && uapi_client_awg_is_set(&dev->awg, key)) {
				prefix(c, dev);
				printf("%s\t%s\n", uapi_client_awg_key_name(key), val);
			}
		}
	} else {
		for (size_t i = 0; i < dev->n_peers; i++) {
			const struct uapi_client_peer *p = &dev->peers[i];
			prefix(c, dev);
			if (!strcmp(f, "peers")) {
				printf("%s\n", b64(p->public_key, k));
				continue;
			}
			printf("%s\t", b64(p->public_key, k));
			if (!strcmp(f, "preshared-keys")) {
				printf("%s\n", maybe_key(p->preshared_key, p->has_preshared_key, k));
			} else if (!strcmp(f, "endpoints")) {
				printf("%s\n", endpoint_text(p, t, sizeof(t)));
			} else if (!strcmp(f, "allowed-ips")) {
				print_allowed_ips(p, " ", "(none)");
				putchar('\n');
			} else if (!strcmp(f, "latest-handshakes")) {
				printf("%" PRId64 "\n", p->last_handshake_sec);
			} else if (!strcmp(f, "transfer")) {
				printf("%" PRIu64 "\t%" PRIu64 "\n", p->rx_bytes, p->tx_bytes);
			} else if (!strcmp(f, "persistent-keepalive")) {
				if (p->persistent_keepalive)
					printf("%u\n", p->persistent_keepalive);
				else
					printf("off\n");
			}
		}
	}
	sodium_memzero(k, sizeof(k));
}

/* Fetches and prints one interface; prints the error and returns 1 on failure. */
static int show_one(const struct show_ctx *c, const char *ifname, const char *field, bool blank_before)
{
	struct uapi_client_device *dev = NULL;
	char err[192];
	int rc = ipc_get(ifname, &dev, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "Unable to access interface %s: %s%s%s\n", ifname, err_str(rc), err[0] ? ": " : "",
		        err);
		return 1;
	}
	if (field) {
		field_print(c, dev, field);
	} else {
		if (blank_before)
			putchar('\n');
		pretty_print(c, dev);
	}
	uapi_client_device_free(dev);
	return 0;
}

static void show_usage(const char *prog, const char *cmd)
{
	fprintf(stderr, "Usage: %s %s %s\n", prog, cmd, CLI_SHOW_ARGS);
}

int cli_show(const char *prog, int argc, char **argv)
{
	const char *hide = getenv("WG_HIDE_KEYS");
	struct show_ctx c = {
		.prog = prog,
		.show_keys = hide && !strcmp(hide, "never"),
		.now = time(NULL),
	};
	const char *target = argc > 1 ? argv[1] : "all";
	const char *field = argc > 2 ? argv[2] : NULL;

	if (argc > 3) {
		show_usage(prog, argv[0]);
		return 1;
	}
	if (field && !field_valid(field)) {
		fprintf(stderr, "Invalid field `%s'.\n", field);
		show_usage(prog, argv[0]);
		return 1;
	}

	if (!strcmp(target, "all") || !strcmp(target, "interfaces")) {
		char **names;
		size_t n;
		int rc = ipc_list_interfaces(&names, &n);
		if (rc < 0) {
			fprintf(stderr, "Unable to list interfaces: %s\n", err_str(rc));
			return 1;
		}
		int ret = 0;
		if (!strcmp(target, "interfaces")) {
			if (field) {
				show_usage(prog, argv[0]);
				ret = 1;
			} else {
				for (size_t i = 0; i < n; i++)
					printf("%s%c", names[i], i + 1 < n ? ' ' : '\n');
			}
		} else {
			c.with_ifname = true;
			for (size_t i = 0; i < n; i++)
				ret |= show_one(&c, names[i], field, i > 0);
		}
		ipc_list_free(names, n);
		return ret;
	}
	if (!ipc_ifname_valid(target)) {
		fprintf(stderr, "Invalid interface name `%s': 1..15 characters, no '/'.\n", target);
		return 1;
	}
	return show_one(&c, target, field, false);
}
