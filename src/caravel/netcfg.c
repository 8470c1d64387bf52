#include "caravel/netcfg.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "caravel/killswitch.h"

#define NLBUF 8192 /* MNL_SOCKET_BUFFER_SIZE is not a constant expression */

/* One request, one acknowledgement: 0 or the kernel's negative errno. */
static int rtnl_request(struct nlmsghdr *req)
{
	char reply[NLBUF];
	struct mnl_socket *s = mnl_socket_open(NETLINK_ROUTE);
	int rc = 0;
	if (!s)
		return -errno;
	req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	req->nlmsg_seq = (uint32_t)time(NULL);
	if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0 || mnl_socket_sendto(s, req, req->nlmsg_len) < 0) {
		rc = -errno;
	} else {
		ssize_t n = mnl_socket_recvfrom(s, reply, sizeof(reply));
		if (n < 0)
			rc = -errno;
		else if (mnl_cb_run(reply, (size_t)n, req->nlmsg_seq, mnl_socket_get_portid(s), NULL, NULL) < 0)
			rc = -errno;
	}
	mnl_socket_close(s);
	return rc;
}

/* Starts a create-or-replace request about interface ifname in b. */
static struct nlmsghdr *if_request(char *b, const char *ifname, uint16_t type, unsigned *idx)
{
	*idx = if_nametoindex(ifname);
	if (!*idx)
		return NULL;
	struct nlmsghdr *h = mnl_nlmsg_put_header(b);
	h->nlmsg_type = type;
	h->nlmsg_flags = type == RTM_NEWLINK ? 0 : NLM_F_CREATE | NLM_F_REPLACE;
	return h;
}

int caravel_net_link_up(const char *ifname)
{
	char b[NLBUF];
	unsigned idx;
	struct nlmsghdr *h = if_request(b, ifname, RTM_NEWLINK, &idx);
	if (!h)
		return -ENODEV;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)idx;
	ifi->ifi_flags = ifi->ifi_change = IFF_UP;
	return rtnl_request(h);
}

static size_t family_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

int caravel_net_addr_add(const char *ifname, const struct cidr *c)
{
	char b[NLBUF];
	unsigned idx;
	struct nlmsghdr *h = if_request(b, ifname, RTM_NEWADDR, &idx);
	if (!h)
		return -ENODEV;
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(h, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)c->addr.family;
	ifa->ifa_prefixlen = c->prefix;
	ifa->ifa_index = idx;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_flags = c->addr.family == AF_INET6 ? IFA_F_NODAD : 0;
	mnl_attr_put(h, IFA_LOCAL, family_len(c->addr.family), c->addr.bytes);
	mnl_attr_put(h, IFA_ADDRESS, family_len(c->addr.family), c->addr.bytes);
	return rtnl_request(h);
}

int caravel_net_route(const char *ifname, const struct cidr *dst, bool in_table)
{
	char b[NLBUF];
	unsigned idx;
	struct nlmsghdr *h = if_request(b, ifname, RTM_NEWROUTE, &idx);
	if (!h)
		return -ENODEV;
	struct rtmsg *rt = mnl_nlmsg_put_extra_header(h, sizeof(*rt));
	rt->rtm_family = (uint8_t)dst->addr.family;
	rt->rtm_dst_len = dst->prefix;
	rt->rtm_table = RT_TABLE_UNSPEC; /* ours is above 255: RTA_TABLE says it */
	rt->rtm_protocol = RTPROT_STATIC;
	rt->rtm_scope = RT_SCOPE_LINK;
	rt->rtm_type = RTN_UNICAST;
	if (dst->prefix)
		mnl_attr_put(h, RTA_DST, family_len(dst->addr.family), dst->addr.bytes);
	mnl_attr_put_u32(h, RTA_TABLE, in_table ? CARAVEL_NET_TABLE : RT_TABLE_MAIN);
	mnl_attr_put_u32(h, RTA_OIF, idx);
	return rtnl_request(h);
}

int caravel_net_rule(bool add, int family)
{
	char b[NLBUF];
	struct nlmsghdr *h = mnl_nlmsg_put_header(b);
	h->nlmsg_type = add ? RTM_NEWRULE : RTM_DELRULE;
	if (add)
		h->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	struct fib_rule_hdr *fr = mnl_nlmsg_put_extra_header(h, sizeof(*fr));
	fr->family = (uint8_t)family;
	fr->action = FR_ACT_TO_TBL;
	fr->flags = FIB_RULE_INVERT;
	fr->table = RT_TABLE_UNSPEC;
	mnl_attr_put_u32(h, FRA_FWMARK, CARAVEL_NET_MARK);
	mnl_attr_put_u32(h, FRA_FWMASK, 0xffffffffu);
	mnl_attr_put_u32(h, FRA_PRIORITY, CARAVEL_NET_RULE_PREF);
	mnl_attr_put_u32(h, FRA_TABLE, CARAVEL_NET_TABLE);
	int rc = rtnl_request(h);
	if (add && rc == -EEXIST)
		return 0;
	if (!add && rc == -ENOENT)
		return 0;
	return rc;
}

#define MARK_TABLE "inet caravel-route"

int caravel_net_marks(bool on, char *err, size_t errlen)
{
	char text[768];
	if (!on)
		return caravel_ks_run("table " MARK_TABLE " {}\ndelete table " MARK_TABLE "\n", err, errlen);
	int fd = open("/proc/sys/net/ipv4/conf/all/src_valid_mark", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1\n", 2) != 2) {
		int rc = -errno;
		snprintf(err, errlen, "setting net.ipv4.conf.all.src_valid_mark=1: %s", err_str(rc));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	close(fd);
	snprintf(text, sizeof(text),
	         "table " MARK_TABLE " {}\ndelete table " MARK_TABLE "\ntable " MARK_TABLE " {\n"
	         "\tchain premangle {\n\t\ttype filter hook prerouting priority mangle; policy accept;\n"
	         "\t\tmeta l4proto udp meta mark set ct mark\n\t}\n"
	         "\tchain postmangle {\n\t\ttype filter hook postrouting priority mangle; policy accept;\n"
	         "\t\tmeta l4proto udp meta mark %#x ct mark set meta mark\n\t}\n}\n",
	         CARAVEL_NET_MARK);
	return caravel_ks_run(text, err, errlen);
}
