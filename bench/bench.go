// Package bench holds the load test of vroauth: the wrk scripts of its scenarios,
// embedded here so that the driver, bench/cmd/vroauth-bench, can write them next to
// its data wherever it runs. See that command for how a run is made.
package bench

import "embed"

// Scripts holds common.lua, which every scenario script is appended to, and one
// <scenario>.lua per scenario.
//
//go:embed *.lua
var Scripts embed.FS
