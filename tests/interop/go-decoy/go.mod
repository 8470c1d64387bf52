module pharos.test/go-decoy

go 1.26
