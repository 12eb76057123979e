package cmd

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trafficctl/trafficctl/pkg/report"
)

// TestReportFlagsLandInTheOptions runs the real flag parsing with the run
// function replaced, so no database is needed.
func TestReportFlagsLandInTheOptions(t *testing.T) {
	t.Parallel()
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want func(o *ReportOptions) bool
		err  string
	}{
		{args: nil, want: func(o *ReportOptions) bool {
			return o.Output == "report.html" && o.Report.Tiles == report.DefaultTiles && o.Report.Location == time.UTC && o.Report.Every == 0
		}},
		{args: []string{"-o", "-", "--feed", "a,b", "--feed", "c", "--no-basemap", "--title", "T", "--every", "6h"}, want: func(o *ReportOptions) bool {
			return o.Output == "-" && slices.Equal(o.Report.Feeds, []string{"a", "b", "c"}) && o.Report.Tiles == "" &&
				o.Report.Title == "T" && o.Report.Every == 6*time.Hour
		}},
		// A date is midnight in --tz; --until's date is the end of that day.
		{args: []string{"--tz", "America/Los_Angeles", "--since", "2026-11-01", "--until", "2026-11-01"}, want: func(o *ReportOptions) bool {
			return o.Report.Location.String() == la.String() &&
				o.Report.Since.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, la)) && o.Report.Until.Equal(time.Date(2026, 11, 2, 0, 0, 0, 0, la))
		}},
		{args: []string{"--tz", "Local"}, err: "name the zone"},
		{args: []string{"--tz", "Nowhere/Else"}, err: "is not a time zone name"},
		{args: []string{"--every", "30s"}, err: "at least 1m"},
		{args: []string{"--tz", "Europe/Paris", "--every", "7m"}, err: "--every: in time zone Europe/Paris the interval must divide a day"},
		{args: []string{"--since", "soon"}, err: "--since: "},
		{args: []string{"--since", "2026-11-02", "--until", "2026-11-01"}, err: "--since must be before --until"},
		{args: []string{"-o", ""}, err: "give a file name"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var got *ReportOptions
			c := NewCmdReport(&Factory{}, func(_ context.Context, o *ReportOptions) error { got = o; return nil })
			c.SetArgs(append([]string{}, tt.args...))
			c.SetOut(io.Discard)
			c.SetErr(io.Discard)
			err := c.Execute()
			if tt.err != "" {
				if _, usage := err.(usageError); !usage || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want a usage error containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(got) {
				t.Errorf("options %+v", got)
			}
		})
	}
}
