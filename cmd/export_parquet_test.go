package cmd

import (
	"strings"
	"testing"

	"github.com/trafficctl/trafficctl/pkg/export"
)

// TestExportParquetFlags runs the flag parsing of --parquet, --raw,
// --no-raw and --partition with the run function replaced.
func TestExportParquetFlags(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		args      []string
		tty       bool // stdout is a terminal
		format    export.Format
		raw       *bool
		partition string
		err       string
	}{
		{args: []string{"--parquet", "-o", "e.parquet"}, format: export.Parquet},
		{args: []string{"--format", "parquet"}, format: export.Parquet}, // to a pipe
		{args: []string{"--parquet", "--table", "snapshots", "--raw", "-o", "s.parquet"}, format: export.Parquet, raw: &yes},
		{args: []string{"--jsonl", "--no-raw"}, format: export.JSONL, raw: &no},
		{args: []string{"--parquet", "--table", "snapshots", "--partition", "day", "--since", "2026-11-01", "--until", "2026-11-03", "-o", "snaps/"},
			format: export.Parquet, partition: "day"},
		{args: []string{"--parquet", "--table", "runs", "--partition", "day", "-o", "runs"}, format: export.Parquet, partition: "day"},
		{args: []string{"--parquet", "--table", "runs", "--partition", "day", "-o", "runs"}, tty: true, format: export.Parquet, partition: "day"},
		{args: []string{"--parquet"}, tty: true, err: "binary Parquet to a terminal"},
		{args: []string{"--parquet", "-o", "-"}, tty: true, err: "binary Parquet to a terminal"},
		{args: []string{"--raw", "--no-raw"}, err: "choose --raw or --no-raw"},
		{args: []string{"--raw", "--table", "runs"}, err: "runs table has no raw column"},
		{args: []string{"--geojson", "--table", "runs"}, err: "runs table has no geometry"},
		{args: []string{"--partition", "day", "--table", "snapshots", "-o", "d"}, err: "add --parquet"},
		{args: []string{"--parquet", "--partition", "week", "--table", "snapshots", "-o", "d"}, err: "only partitioning is day"},
		{args: []string{"--parquet", "--partition", "day", "--table", "events", "-o", "d"}, err: "snapshots and runs tables, not events"},
		{args: []string{"--parquet", "--partition", "day", "--table", "snapshots"}, err: "-o DIR"},
		{args: []string{"--parquet", "--partition", "day", "--table", "snapshots", "--since", "2026-11-01T12:00:00Z", "-o", "d"}, err: "whole UTC days"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got := parseExportFlags(t, tt.args, tt.tty, tt.err)
			if got == nil {
				return
			}
			if got.Format != tt.format || got.Partition != tt.partition || (got.Raw == nil) != (tt.raw == nil) || got.Raw != nil && *got.Raw != *tt.raw {
				t.Errorf("format %s raw %v partition %q, want %s %v %q", got.Format, got.Raw, got.Partition, tt.format, tt.raw, tt.partition)
			}
		})
	}
}
