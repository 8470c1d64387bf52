/* REALITY server handshakes per second per core, and the memory an open
 * connection's state machine holds. The server core (reality_server.h) runs
 * against our client core (reality_client.h) in one process; only the
 * server's calls are timed (thread CPU time): reading the ClientHello and
 * deciding (X25519 + HKDF + AES-GCM open), mirroring dest's ServerHello with
 * our key exchange (X25519, or ML-KEM-768 encapsulation + X25519), signing
 * (Ed25519) and sealing the flight, and checking the client's Finished. The
 * dest flight is scripted (OpenSSL's separate-record shape).
 *
 *   cc -std=c11 -O2 -march=native -D_GNU_SOURCE -Isrc bench/reality-handshake.c \
 *      -Wl,--start-group build/bench/lib/libreality.a build/bench/lib/liblib.a -Wl,--end-group \
 *      $(pkg-config --libs libsodium libcrypto libssl jansson) -lpthread -o reality-handshake
 *   ./reality-handshake [N]
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/rng.h"
#include "reality/reality_client.h"
#include "reality/reality_server.h"
#include "reality/tls13_msg.h"

#define PRIV_TEXT "aGSYystUbf59_9_6LKRxD27rmSW_-2_nyd9YG_Gwbks"
#define PUB_TEXT  "E59WjnvZcQMu7tR7_BgyhycuEdBS-CtKxfImRCdAvFM"
#define SNI       "www.decoy.test"

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "reality-handshake: %s failed\n", what);
	exit(1);
}

/* dest's ServerHello (echoing the session id), CCS, four records. */
static void dest_flight(struct buf *out, const struct buf *hello, uint16_t group)
{
	static const size_t rec[] = {50, 500, 101, 58};
	struct tls13_msg_ch ch;
	uint8_t random[32], key[TLS_X25519MLKEM768_SERVER_LEN], sh[2048], hdr[5] = {TLS_CT_HANDSHAKE, 3, 3};
	const uint8_t *sid;
	size_t sid_len, sh_len;
	if (tls13_msg_ch_parse(&ch, hello->data + 5, hello->len - 5) < 0)
		die("ClientHello parse");
	tls13_msg_ch_session_id(&ch, &sid, &sid_len);
	rng_bytes(random, sizeof(random));
	rng_bytes(key, sizeof(key));
	struct tls13_msg_sh_spec spec = {.random = random, .sid = sid, .sid_len = sid_len,
	                                 .suite = TLS_AES_128_GCM_SHA256, .group = group, .key = key,
	                                 .key_len = group == TLS_GROUP_X25519 ? 32 : TLS_X25519MLKEM768_SERVER_LEN};
	if (tls13_msg_sh_build(&spec, sh, sizeof(sh), &sh_len) < 0)
		die("ServerHello build");
	tls_put_u16(hdr + 3, (uint16_t)sh_len);
	if (buf_append(out, hdr, 5) < 0 || buf_append(out, sh, sh_len) < 0 ||
	    buf_append(out, "\x14\x03\x03\x00\x01\x01", 6) < 0)
		die("buffer");
	for (size_t i = 0; i < 4; i++) {
		uint8_t body[600] = {0};
		hdr[0] = TLS_CT_APPLICATION_DATA;
		tls_put_u16(hdr + 3, (uint16_t)(rec[i] - 5));
		if (buf_append(out, hdr, 5) < 0 || buf_append(out, body, rec[i] - 5) < 0)
			die("buffer");
	}
}

/* One handshake; returns the server's CPU seconds. If keep is set the
 * connection stays open in *keep (for the memory figure). */
static double one(const struct reality_server_cfg *cfg, uint16_t group, struct reality_conn *keep)
{
	struct reality_client cl;
	struct reality_client_config cc = {.server_name = SNI};
	struct reality_conn local, *c = keep ? keep : &local;
	struct buf hello, dest, out;
	size_t used = 0;
	double t = 0, t0;
	if (reality_auth_key_from_text(cc.server_pub, PUB_TEXT) < 0)
		die("key");
	cc.short_id[0] = 0x01;
	if (reality_client_init(&cl, &cc, (uint32_t)time(NULL), NULL, NULL) < 0)
		die("client init");
	buf_init(&hello, 1 << 16);
	buf_init(&dest, 1 << 16);
	buf_init(&out, 1 << 16);
	if (reality_client_hello(&cl, &hello) < 0)
		die("client hello");
	t0 = cpu_now();
	if (reality_conn_init(c, cfg, (uint64_t)time(NULL) * 1000) < 0 ||
	    reality_conn_client_data(c, hello.data, hello.len) < 0 || c->state != REALITY_CONN_WAIT_DEST)
		die("server decision");
	t += cpu_now() - t0;
	dest_flight(&dest, &hello, group);
	t0 = cpu_now();
	if (reality_conn_dest_data(c, dest.data, dest.len) < 0 || c->state != REALITY_CONN_WAIT_FIN)
		die("server flight");
	t += cpu_now() - t0;
	if (reality_client_handshake(&cl, c->out_client.data, c->out_client.len, &used, &out) != REALITY_CLIENT_OURS)
		die("client handshake");
	buf_reset(&c->out_client);
	t0 = cpu_now();
	if (reality_conn_client_data(c, out.data, out.len) < 0 || c->state != REALITY_CONN_OPEN)
		die("server Finished check");
	if (!keep)
		reality_conn_fini(c);
	else /* as server_io leaves an idle connection: queues written and freed */
		buf_fini(&c->out_client);
	t += cpu_now() - t0;
	buf_fini(&hello);
	buf_fini(&dest);
	buf_fini(&out);
	reality_client_fini(&cl);
	return t;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	struct reality_server_cfg *cfg = calloc(1, sizeof(*cfg));
	if (!cfg || n <= 0 || reality_auth_key_from_text(cfg->private_key, PRIV_TEXT) < 0)
		die("setup");
	strcpy(cfg->names[cfg->n_names++], SNI);
	cfg->short_ids[cfg->n_short_ids++][0] = 0x01;
	if (reality_server_cfg_keys(cfg) < 0)
		die("keys");
	static const struct {
		uint16_t group;
		const char *name;
	} groups[] = {{TLS_GROUP_X25519, "X25519"}, {TLS_GROUP_X25519MLKEM768, "X25519MLKEM768"}};
	for (size_t g = 0; g < 2; g++) {
		double t = 0;
		for (int i = 0; i < n; i++)
			t += one(cfg, groups[g].group, NULL);
		printf("server handshakes (%s, dest picks it): %.0f per second per core (%d in %.2f s CPU)\n",
		       groups[g].name, n / t, n, t);
	}
	/* memory of open connections: heap in use per OPEN connection */
	enum { K = 200 };
	struct reality_conn *conns = calloc(K, sizeof(*conns));
	if (!conns)
		die("calloc");
	struct mallinfo2 before = mallinfo2();
	for (int i = 0; i < K; i++)
		(void)one(cfg, TLS_GROUP_X25519, &conns[i]);
	struct mallinfo2 after = mallinfo2();
	printf("idle open connection state: %zu bytes each (struct %zu + heap %zu), plus a thread stack in server_io\n",
	       sizeof(struct reality_conn) + (after.uordblks - before.uordblks) / K, sizeof(struct reality_conn),
	       (after.uordblks - before.uordblks) / K);
	for (int i = 0; i < K; i++)
		reality_conn_fini(&conns[i]);
	free(conns);
	free(cfg);
	return 0;
}
