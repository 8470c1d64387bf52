// A decoy HTTPS site on Go's crypto/tls, for REALITY server tests that need
// a dest choosing the hybrid X25519MLKEM768 group (Go's default first
// preference since 1.24; OpenSSL 3.0, which nginx uses here, lacks it).
//
//	go-decoy -listen ADDR:PORT -cert FILE -key FILE -page FILE
//
// Serves the page on every path over HTTP/2 and HTTP/1.1, TLS 1.2-1.3.
// Prints "listening" when ready. Standard library only.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
)

func main() {
	listen := flag.String("listen", "", "address:port")
	certFile := flag.String("cert", "", "certificate chain (PEM)")
	keyFile := flag.String("key", "", "private key (PEM)")
	pageFile := flag.String("page", "", "the page served on every path")
	flag.Parse()
	page, err := os.ReadFile(*pageFile)
	if err != nil {
		log.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		log.Fatal(err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write(page)
		}),
		TLSConfig: cfg,
		ConnState: func(c net.Conn, s http.ConnState) {
			if s == http.StateActive {
				if tc, ok := c.(*tls.Conn); ok {
					st := tc.ConnectionState()
					fmt.Printf("conn version=%x curve=%v\n", st.Version, st.CurveID)
				}
			}
		},
	}
	fmt.Println("listening")
	log.Fatal(srv.Serve(tls.NewListener(ln, cfg)))
}
