#include "caravel/killswitch.h"

#include <errno.h>
#include <nftables/libnftables.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "lib/buf.h"

static bool ifname_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 15)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' ||
		      *s == '_' || *s == '-'))
			return false;
	return true;
}

/* "ip daddr 1.2.3.4 udp dport 443-450" for one entry, either direction. */
static int entry_match(struct buf *out, const struct caravel_ks_entry *e, bool outbound)
{
	char a[ADDR_STRLEN], ports[16];
	if (addr_format(&e->addr, a, sizeof(a)) < 0 || !e->port_lo || e->port_hi < e->port_lo)
		return -EINVAL;
	if (e->port_hi == e->port_lo)
		snprintf(ports, sizeof(ports), "%u", e->port_lo);
	else
		snprintf(ports, sizeof(ports), "%u-%u", e->port_lo, e->port_hi);
	return buf_printf(out, "\t\t%s %s %s udp %s %s accept\n", e->addr.family == AF_INET ? "ip" : "ip6",
	                  outbound ? "daddr" : "saddr", a, outbound ? "dport" : "sport", ports);
}

int caravel_ks_render(const char *ifname, const struct caravel_ks_entry *e, size_t n, struct buf *out)
{
	static const char *const hooks[2][2] = { { "output", "oifname" }, { "input", "iifname" } };
	if (!ifname_ok(ifname))
		return -EINVAL;
	/* Declaring the table first makes the delete succeed when it is absent,
	 * and the whole text is one transaction: never a moment without rules. */
	int rc = buf_printf(out, "table " CARAVEL_KS_TABLE " {}\ndelete table " CARAVEL_KS_TABLE "\n"
	                         "table " CARAVEL_KS_TABLE " {\n");
	for (int d = 0; d < 2 && rc == 0; d++) {
		bool outbound = d == 0;
		rc = buf_printf(out,
		                "\tchain %s {\n\t\ttype filter hook %s priority filter; policy drop;\n"
		                "\t\t%s \"lo\" accept\n\t\t%s \"%s\" accept\n",
		                hooks[d][0], hooks[d][0], hooks[d][1], hooks[d][1], ifname);
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = entry_match(out, &e[i], outbound);
		if (rc == 0)
			rc = buf_printf(out, "\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, %s } accept\n"
			                     "\t\tcounter drop\n\t}\n",
			                outbound ? "nd-router-solicit" : "nd-router-advert");
	}
	if (rc == 0)
		rc = buf_printf(out, "}\n");
	return rc;
}

int caravel_ks_run(const char *text, char *err, size_t errlen)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!nft)
		return -ENOMEM;
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	int rc = nft_run_cmd_from_buffer(nft, text) == 0 ? 0 : -EINVAL;
	if (rc < 0 && err) {
		const char *msg = nft_ctx_get_error_buffer(nft);
		snprintf(err, errlen, "nftables refused the rules: %s", msg && *msg ? msg : "(no message)");
		char *nl = strrchr(err, '\n');
		if (nl && nl[1] == '\0')
			*nl = '\0';
	}
	nft_ctx_free(nft);
	return rc;
}

int caravel_ks_apply(const char *ifname, const struct caravel_ks_entry *e, size_t n, char *err, size_t errlen)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	int rc = caravel_ks_render(ifname, e, n, &b);
	if (rc == 0)
		rc = caravel_ks_run((const char *)b.data, err, errlen);
	else if (err)
		snprintf(err, errlen, "kill switch rules for \"%s\": %s", ifname, err_str(rc));
	buf_fini(&b);
	return rc;
}

int caravel_ks_remove(char *err, size_t errlen)
{
	return caravel_ks_run("table " CARAVEL_KS_TABLE " {}\ndelete table " CARAVEL_KS_TABLE "\n", err, errlen);
}
