module github.com/pollen-dev/pollen/bench

go 1.26.0

require (
	github.com/hashicorp/yamux v0.1.2
	github.com/pollen-dev/pollen v0.0.0
	github.com/xtaci/smux v1.5.56
)

require golang.org/x/sys v0.49.0 // indirect

replace github.com/pollen-dev/pollen => ../
