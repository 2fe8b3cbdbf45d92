module github.com/pollen-dev/pollen/bench

go 1.26.0

require (
	github.com/hashicorp/yamux v0.1.2
	github.com/pollen-dev/pollen v0.0.0
	github.com/xtaci/smux v1.5.56
	golang.org/x/net v0.62.0
	google.golang.org/grpc v1.85.0
	lukechampine.com/blake3 v1.4.1
)

require (
	github.com/klauspost/cpuid/v2 v2.0.9 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260817212433-ac3dfec99bb1 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace github.com/pollen-dev/pollen => ../
