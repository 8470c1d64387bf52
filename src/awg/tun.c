/* Opening the TUN device. With IFF_VNET_HDR and TSO/USO offloads the kernel
 * hands us 64 KiB super-packets and accepts coalesced ones (offload.c does the
 * splitting and merging); without them we fall back to one packet per read. */
#include "awg/devpriv.h"
#include "awg/offload.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int tun_open(const char *ifname, char *actual, size_t cap, bool *vnet, bool *uso)
{
	*uso = false;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	if (strlen(ifname) >= IFNAMSIZ) {
		close(fd);
		return -ENAMETOOLONG;
	}
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	/* *vnet in: whether the caller can handle virtio headers; out: whether
	 * the device has them. */
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (*vnet ? IFF_VNET_HDR : 0);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	if (!*vnet) {
		snprintf(actual, cap, "%s", ifr.ifr_name);
		return fd;
	}
	/* Never TUN_F_TSO_ECN: ECN super-packets are refused by offload_split. */
	unsigned off = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
	if (ioctl(fd, TUNSETOFFLOAD, off | TUN_F_USO4 | TUN_F_USO6) == 0) {
		off = 0;
		*uso = true;
	}
	if (off && ioctl(fd, TUNSETOFFLOAD, off) < 0) {
		/* No offloads: reopen without the vnet header. */
		close(fd);
		fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
		if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
			int e = -errno;
			close(fd);
			return e;
		}
		*vnet = false;
	}
	snprintf(actual, cap, "%s", ifr.ifr_name);
	return fd;
}

int tun_set_mtu(const char *ifname, uint32_t mtu)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	ifr.ifr_mtu = (int)mtu;
	int rc = ioctl(s, SIOCSIFMTU, &ifr) < 0 ? -errno : 0;
	close(s);
	return rc;
}
