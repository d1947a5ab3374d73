//go:build race

package cli_test

// When the tests run with -race, the binary under test is built with it too,
// so a data race in a running node fails the end-to-end test.
func init() { raceBuild = true }
