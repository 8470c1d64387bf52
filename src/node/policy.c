#include "node/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"

#define POLICY_TABLE "inet pharos"

void policy_defaults(struct policy *p, const char *tunnel_if)
{
	memset(p, 0, sizeof(*p));
	p->forwarding = true;
	p->masquerade = true;
	snprintf(p->tunnel_if, sizeof(p->tunnel_if), "%s", tunnel_if);
}

/* Interface names go into nft strings: letters, digits and . _ - only. */
static bool ifname_ok(const char *s, bool allow_empty)
{
	size_t n = strlen(s);
	if (!n)
		return allow_empty;
	if (n >= POLICY_IFNAMSIZ)
		return false;
	for (const char *c = s; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' ||
		      *c == '_' || *c == '-'))
			return false;
	return true;
}

int policy_validate(const struct policy *p, char *err, size_t errlen)
{
	if (!ifname_ok(p->tunnel_if, false)) {
		snprintf(err, errlen, "tunnel interface \"%s\": expected 1..15 of [A-Za-z0-9._-]", p->tunnel_if);
		return -EINVAL;
	}
	if (!ifname_ok(p->egress_if, true)) {
		snprintf(err, errlen, "egress interface \"%s\": expected 1..15 of [A-Za-z0-9._-], or empty to detect",
		         p->egress_if);
		return -EINVAL;
	}
	if ((p->masquerade || p->isolation) && !p->forwarding) {
		snprintf(err, errlen, "%s needs forwarding: turn forwarding on, or %s off",
		         p->masquerade ? "masquerade" : "isolation", p->masquerade ? "masquerade" : "isolation");
		return -EINVAL;
	}
	return 0;
}

int policy_render(const struct policy *p, const char *egress, struct buf *out)
{
	char err[128];
	int rc = policy_validate(p, err, sizeof(err));
	if (rc < 0)
		return rc;
	if (p->masquerade && !ifname_ok(egress ? egress : "", false))
		return -EINVAL;
	const char *t = p->tunnel_if;
	rc = buf_printf(out,
	                "# pharos node policy: forwarding %s, masquerade %s, isolation %s\n"
	                "table " POLICY_TABLE " {}\n"
	                "delete table " POLICY_TABLE "\n"
	                "table " POLICY_TABLE " {\n",
	                p->forwarding ? "on" : "off", p->masquerade ? "on" : "off", p->isolation ? "on" : "off");
	/* Forwarding: only traffic to or from the tunnel crosses this host; with
	 * forwarding off, nothing from the tunnel is forwarded at all. */
	rc |= buf_printf(out, "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n");
	if (!p->forwarding)
		rc |= buf_printf(out, "\t\tiifname \"%s\" drop\n\t\toifname \"%s\" drop\n", t, t);
	else {
		if (p->isolation)
			rc |= buf_printf(out, "\t\tiifname \"%s\" oifname \"%s\" drop\n", t, t);
		rc |= buf_printf(out, "\t\tiifname \"%s\" accept\n\t\toifname \"%s\" ct state established,related accept\n",
		                 t, t);
	}
	rc |= buf_printf(out, "\t}\n");
	if (p->masquerade)
		rc |= buf_printf(out,
		                 "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
		                 "\t\tiifname \"%s\" oifname \"%s\" masquerade\n\t}\n",
		                 t, egress);
	rc |= buf_printf(out, "}\n");
	return rc ? ERR_TOOBIG : 0;
}

static int egress_v4(char out[POLICY_IFNAMSIZ])
{
	FILE *f = fopen("/proc/net/route", "re");
	char line[256];
	int rc = ERR_NOTFOUND;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char ifn[64];
		unsigned long dst, gw, flags, mask;
		/* A usable default route: up (0x1), not a reject route (0x200). */
		if (sscanf(line, "%63s %lx %lx %lx %*d %*d %*d %lx", ifn, &dst, &gw, &flags, &mask) == 5 && dst == 0 &&
		    mask == 0 && (flags & 1) && !(flags & 0x200) && strcmp(ifn, "*") &&
		    strlen(ifn) < POLICY_IFNAMSIZ) {
			memcpy(out, ifn, strlen(ifn) + 1); /* length checked above */
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

static int egress_v6(char out[POLICY_IFNAMSIZ])
{
	FILE *f = fopen("/proc/net/ipv6_route", "re");
	char line[256];
	int rc = ERR_NOTFOUND;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char dst[40], ifn[64];
		unsigned plen, flags;
		if (sscanf(line, "%39s %x %*s %*s %*s %*s %*s %*s %x %63s", dst, &plen, &flags, ifn) == 4 && plen == 0 &&
		    !strcmp(dst, "00000000000000000000000000000000") && strcmp(ifn, "lo") && (flags & 1) &&
		    !(flags & 0x200) && strlen(ifn) < POLICY_IFNAMSIZ) {
			memcpy(out, ifn, strlen(ifn) + 1); /* length checked above */
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

int policy_detect_egress(char out[POLICY_IFNAMSIZ])
{
	int rc = egress_v4(out);
	return rc == 0 ? 0 : egress_v6(out);
}

static int write_sysctl(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, value, strlen(value));
	int rc = n < 0 ? -errno : 0;
	close(fd);
	return rc;
}

static int run_nft(const char *script, char *err, size_t errlen)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!nft)
		return -ENOMEM;
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	int rc = nft_run_cmd_from_buffer(nft, script);
	if (rc != 0) {
		const char *e = nft_ctx_get_error_buffer(nft);
		snprintf(err, errlen, "nftables refused the ruleset: %s", e && *e ? e : "unknown error");
		rc = -EINVAL;
	}
	nft_ctx_free(nft);
	return rc;
}

int policy_apply(const struct policy *p, char *err, size_t errlen)
{
	char egress[POLICY_IFNAMSIZ] = "";
	struct buf script;
	int rc = policy_validate(p, err, errlen);
	if (rc < 0)
		return rc;
	if (p->masquerade) {
		if (p->egress_if[0])
			snprintf(egress, sizeof(egress), "%s", p->egress_if);
		else if ((rc = policy_detect_egress(egress)) < 0) {
			snprintf(err, errlen, "masquerade: no default route to find the egress interface from; "
			                      "set it explicitly");
			return rc;
		}
	}
	buf_init(&script, 64 << 10);
	if ((rc = policy_render(p, egress, &script)) < 0) {
		snprintf(err, errlen, "cannot render the ruleset: %s", err_str(rc));
		goto out;
	}
	/* Forwarding sysctls first when turning on; the table blocks tunnel
	 * traffic on its own when forwarding is off (other traffic is untouched). */
	if (p->forwarding) {
		static const char *const fw[] = { "/proc/sys/net/ipv4/conf/all/forwarding",
			                          "/proc/sys/net/ipv6/conf/all/forwarding" };
		for (size_t i = 0; i < 2; i++)
			if ((rc = write_sysctl(fw[i], "1")) < 0) {
				snprintf(err, errlen, "cannot enable forwarding (%s): %s", fw[i], err_str(rc));
				goto out;
			}
	}
	rc = run_nft((const char *)script.data, err, errlen);
	if (rc == 0)
		log_info("network policy applied: forwarding %s, masquerade %s%s%s, isolation %s",
		         p->forwarding ? "on" : "off", p->masquerade ? "on via " : "off", p->masquerade ? egress : "", "",
		         p->isolation ? "on" : "off");
out:
	buf_fini(&script);
	return rc;
}

int policy_remove(char *err, size_t errlen)
{
	return run_nft("table " POLICY_TABLE " {}\ndelete table " POLICY_TABLE "\n", err, errlen);
}
