package front

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"
	"translucent/migrate"

	"github.com/fxamacker/cbor/v2"
)

// takeOver is a successor's side of the handoff: receive, restore, READY,
// wait for COMMIT. On any failure before COMMIT it tells the predecessor
// and returns, touching no connection (the predecessor still owns them).
func takeOver(ctx context.Context, pred *migrate.Predecessor, srv *registry, cfg *Config, log *slog.Logger, met *metrics) (listeners, meta, error) {
	defer pred.Close()
	call(cfg.Hooks.BeforeReceive)
	var old meta
	pred.HandleUpdates(func(data []byte) []byte {
		call(cfg.Hooks.OnUpdate)
		return srv.applyUpdates(data)
	})
	if err := pred.Hello(srv.ahead()); err != nil {
		return listeners{}, old, err
	}
	h, files, records, err := pred.Receive()
	if err != nil {
		return listeners{}, old, fmt.Errorf("receiving the handoff: %w", err)
	}
	start := time.Now()
	fail := func(err error) (listeners, meta, error) {
		pred.Fail(err.Error())
		return listeners{}, old, err
	}
	if err := cbor.Unmarshal(h.Meta, &old); err != nil {
		closeFiles(files)
		return fail(fmt.Errorf("handoff header: %w", err))
	}
	ls, err := inherit(old.Listeners, files)
	if err != nil {
		return fail(err)
	}
	data, conns := make([][]byte, len(records)), make([]*os.File, len(records))
	for i, r := range records {
		data[i], conns[i] = r.Data, r.Conn
	}
	err = srv.adoptAll(data, conns)
	if err == nil && cfg.Hooks.Adopted != nil {
		err = cfg.Hooks.Adopted()
	}
	if err != nil {
		ls.abandon()
		return fail(err)
	}
	call(cfg.Hooks.BeforeReady)
	reused := srv.dropPrebuilt()
	report, _ := cbor.Marshal(meta{Pid: os.Getpid(), Version: cfg.Version, Sessions: len(records), Restore: time.Since(start), Prebuilt: reused})
	if err := pred.Ready(report); err != nil {
		os.Exit(1) // the predecessor, alive, aborted: it still owns everything
	}
	ready := time.Now()
	if err := pred.WaitCommit(ctx); err != nil {
		log.Error("handoff not committed; exiting without touching the old process's connections", "err", err)
		os.Exit(1)
	}
	met.arrived(old, start, ready, time.Now())
	if pred.PredecessorDied() {
		log.Warn("the old process died before COMMIT; going on with what it handed over", "sessions", len(records), "announced", h.Sessions)
	}
	log.Info("took over", "from_pid", old.Pid, "from_version", old.Version, "sessions", len(records), "prebuilt", reused, "restore", time.Since(start))
	return ls, old, nil
}
