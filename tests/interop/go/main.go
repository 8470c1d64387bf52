// Command echo-client calls pharos.test.Echo (tests/proto/echo.proto) with
// grpc-go over mutual TLS: the Go side of tests/netns/test_rpc_interop.py.
// Messages are encoded with protowire rather than generated code, so the
// test needs no protoc plugin; grpc-go does all the gRPC.
//
//	echo-client -target 127.0.0.1:PORT -ca ca.pem -cert c.pem -key c.key -name localhost CMD ARGS
//
// Commands: say TEXT [DEADLINE_MS] | meta KEY VALUE | count N SIZE | call METHOD |
// bench SECONDS CONCURRENCY [METHOD] (unary Say calls, or METHOD with an empty
// request, over the one connection) | watch METHOD SECONDS (server stream, counted)
// Output: one line, "text=... seq=N", "messages=N order=ok status=OK",
// "unary_calls_per_s=X calls=N errors=E", or "status=CODE message=...".
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
)

// raw passes already-encoded protobuf bytes through grpc-go untouched.
type raw struct{}

func (raw) Marshal(v interface{}) ([]byte, error) { return *(v.(*[]byte)), nil }
func (raw) Unmarshal(b []byte, v interface{}) error {
	p := v.(*[]byte)
	*p = append((*p)[:0], b...)
	return nil
}
func (raw) Name() string { return "proto" }

type msg struct {
	text string
	blob []byte
	seq  uint64
}

func encodeMsg(m msg) []byte {
	var b []byte
	if m.text != "" {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, m.text)
	}
	if len(m.blob) > 0 {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, m.blob)
	}
	if m.seq != 0 {
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, m.seq)
	}
	return b
}

func decodeMsg(b []byte) (msg, error) {
	var m msg
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return m, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, n := protowire.ConsumeString(b)
			if n < 0 {
				return m, protowire.ParseError(n)
			}
			m.text, b = v, b[n:]
		case num == 2 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return m, protowire.ParseError(n)
			}
			m.blob, b = v, b[n:]
		case num == 3 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return m, protowire.ParseError(n)
			}
			m.seq, b = v, b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return m, protowire.ParseError(n)
			}
			b = b[n:]
		}
	}
	return m, nil
}

func fail(err error) {
	s := status.Convert(err)
	fmt.Printf("status=%s message=%s\n", s.Code(), s.Message())
	os.Exit(1)
}

func main() {
	target := flag.String("target", "", "host:port")
	caFile := flag.String("ca", "", "CA certificate (PEM)")
	certFile := flag.String("cert", "", "client certificate (PEM)")
	keyFile := flag.String("key", "", "client key (PEM)")
	name := flag.String("name", "localhost", "server name to verify")
	flag.Parse()
	args := flag.Args()
	if len(args) < 1 {
		fmt.Fprintln(os.Stderr, "usage: echo-client -target ADDR -ca F -cert F -key F [-name N] say|meta|count|call ...")
		os.Exit(2)
	}

	pool := x509.NewCertPool()
	pem, err := os.ReadFile(*caFile)
	if err != nil || !pool.AppendCertsFromPEM(pem) {
		fmt.Fprintln(os.Stderr, "echo-client: cannot read CA", *caFile)
		os.Exit(2)
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: *name, MinVersion: tls.VersionTLS13}
	if *certFile != "" {
		pair, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "echo-client:", err)
			os.Exit(2)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	conn, err := grpc.Dial(*target, grpc.WithTransportCredentials(credentials.NewTLS(cfg)),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(raw{})))
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo-client:", err)
		os.Exit(2)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	switch args[0] {
	case "say", "meta", "call":
		method := "/pharos.test.Echo/Say"
		m := msg{seq: 7}
		switch args[0] {
		case "say":
			m.text = args[1]
			if len(args) > 2 {
				ms, _ := strconv.Atoi(args[2])
				var c context.CancelFunc
				ctx, c = context.WithTimeout(context.Background(), time.Duration(ms)*time.Millisecond)
				defer c()
			}
		case "meta":
			m.text = "meta:" + args[1]
			ctx = metadata.AppendToOutgoingContext(ctx, args[1], args[2])
		case "call":
			method = args[1]
			m.text = "x"
		}
		req := encodeMsg(m)
		var resp []byte
		if err := conn.Invoke(ctx, method, &req, &resp); err != nil {
			fail(err)
		}
		out, err := decodeMsg(resp)
		if err != nil {
			fail(status.Error(codes.Internal, err.Error()))
		}
		fmt.Printf("text=%s seq=%d\n", out.text, out.seq)
	case "count":
		n, _ := strconv.Atoi(args[1])
		size, _ := strconv.Atoi(args[2])
		var req []byte
		req = protowire.AppendTag(req, 1, protowire.VarintType)
		req = protowire.AppendVarint(req, uint64(n))
		req = protowire.AppendTag(req, 2, protowire.VarintType)
		req = protowire.AppendVarint(req, uint64(size))
		st, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/pharos.test.Echo/Count")
		if err != nil {
			fail(err)
		}
		if err := st.SendMsg(&req); err != nil {
			fail(err)
		}
		if err := st.CloseSend(); err != nil {
			fail(err)
		}
		got, order := 0, "ok"
		for {
			var b []byte
			err := st.RecvMsg(&b)
			if err == io.EOF {
				break
			}
			if err != nil {
				fail(err)
			}
			m, err := decodeMsg(b)
			if err != nil || m.seq != uint64(got) || len(m.blob) != size {
				order = "broken"
			}
			got++
		}
		fmt.Printf("messages=%d order=%s status=OK\n", got, order)
	case "bench":
		secs, _ := strconv.ParseFloat(args[1], 64)
		conc, _ := strconv.Atoi(args[2])
		req := encodeMsg(msg{text: "benchmark"})
		method := "/pharos.test.Echo/Say"
		if len(args) > 3 {
			// Any unary method with an empty request (bench/node-rpc: NodeControl/GetStatus).
			method, req = args[3], []byte{}
		}
		var calls, errs int64
		var wg sync.WaitGroup
		start := time.Now()
		until := start.Add(time.Duration(secs * float64(time.Second)))
		for i := 0; i < conc; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(until) {
					var resp []byte
					if err := conn.Invoke(context.Background(), method, &req, &resp); err != nil {
						atomic.AddInt64(&errs, 1)
					} else {
						atomic.AddInt64(&calls, 1)
					}
				}
			}()
		}
		wg.Wait()
		el := time.Since(start).Seconds()
		fmt.Printf("unary_calls_per_s=%.0f calls=%d errors=%d concurrency=%d\n", float64(calls)/el, calls, errs, conc)
	case "watch":
		// watch METHOD SECONDS: a server stream with an empty request (bench/node-bench:
		// NodeControl/WatchEvents); counts messages by the varint in field 2 (the event
		// type) and sums field 10 (dropped_before). Prints "subscribed" once the request is sent.
		secs, _ := strconv.ParseFloat(args[2], 64)
		sctx, c := context.WithTimeout(context.Background(), time.Duration(secs*float64(time.Second)))
		defer c()
		st, err := conn.NewStream(sctx, &grpc.StreamDesc{ServerStreams: true}, args[1])
		if err != nil {
			fail(err)
		}
		req := []byte{}
		if err := st.SendMsg(&req); err != nil {
			fail(err)
		}
		if err := st.CloseSend(); err != nil {
			fail(err)
		}
		fmt.Println("subscribed")
		counts := map[uint64]int{}
		var dropped uint64
		var first, last time.Time
		for {
			var b []byte
			if err := st.RecvMsg(&b); err != nil {
				break // deadline or end of stream
			}
			var typ uint64
			for len(b) > 0 {
				num, wt, n := protowire.ConsumeTag(b)
				if n < 0 {
					break
				}
				b = b[n:]
				if wt == protowire.VarintType {
					v, m := protowire.ConsumeVarint(b)
					if m < 0 {
						break
					}
					if num == 2 {
						typ = v
					} else if num == 10 {
						dropped += v
					}
					b = b[m:]
					continue
				}
				m := protowire.ConsumeFieldValue(num, wt, b)
				if m < 0 {
					break
				}
				b = b[m:]
			}
			counts[typ]++
			if first.IsZero() {
				first = time.Now()
			}
			last = time.Now()
		}
		fmt.Printf("types=")
		for t, n := range counts {
			fmt.Printf("%d:%d,", t, n)
		}
		fmt.Printf(" dropped=%d span_s=%.3f\n", dropped, last.Sub(first).Seconds())
	default:
		fmt.Fprintln(os.Stderr, "echo-client: unknown command", args[0])
		os.Exit(2)
	}
}
