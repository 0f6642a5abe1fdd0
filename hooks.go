package main

import (
	"fmt"
	"io"
	"os"

	"translucent/front"
)

// The end-to-end tests make real processes fail, as real ones might, by
// naming a failure in their environment (TRANSLUCENT_TEST_FAIL). It is
// read here, in the wiring, and nowhere in the serving code, which gets
// hooks (front.Hooks) instead.

// testHooks are the failures the end-to-end tests inject into a real
// server through its environment (TRANSLUCENT_TEST_FAIL): read here, in
// the wiring, so that no serving code looks for them.
func testHooks(stderr io.Writer) front.Hooks {
	exit := func(code int) func() {
		return func() {
			fmt.Fprintln(stderr, "TRANSLUCENT_TEST_FAIL: exiting")
			os.Exit(code)
		}
	}
	switch os.Getenv("TRANSLUCENT_TEST_FAIL") {
	case "exit-before-receive":
		return front.Hooks{BeforeReceive: exit(3)}
	case "exit-before-ready":
		return front.Hooks{BeforeReady: exit(3)}
	case "refuse":
		return front.Hooks{Adopted: func() error { return fmt.Errorf("refused by TRANSLUCENT_TEST_FAIL") }}
	case "die-after-ready":
		return front.Hooks{BeforeCommit: exit(9)}
	case "exit-on-update":
		return front.Hooks{OnUpdate: exit(3)}
	}
	return front.Hooks{}
}

// verifyHook is verify's: a staging process that crashes or hangs while it
// restores.
func verifyHook(stderr io.Writer) {
	switch os.Getenv("TRANSLUCENT_TEST_FAIL") {
	case "verify-crash":
		fmt.Fprintln(stderr, "TRANSLUCENT_TEST_FAIL: crashing while restoring")
		os.Exit(3)
	case "verify-hang":
		select {}
	}
}
