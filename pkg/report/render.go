package report

import (
	"bufio"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"regexp"
)

// The libraries are their npm packages' dist files as published (uPlot
// 1.6.32, Leaflet 1.9.4), with their licences beside them.
//
//go:embed assets
var assets embed.FS

var pageTemplate = template.Must(template.ParseFS(assets, "assets/report.html"))

// sourceMap is the comment pointing at a .map file that is not there.
var sourceMap = regexp.MustCompile(`(?m)^//# sourceMappingURL=.*$`)

func asset(name string) string {
	b, err := assets.ReadFile("assets/" + name)
	if err != nil {
		panic(err) // embedded at build time: cannot be missing
	}
	return sourceMap.ReplaceAllString(string(b), "")
}

// Render writes d as one HTML page with everything inline.
func Render(w io.Writer, d *Data) error {
	// encoding/json escapes <, > and &, so the data cannot end its script
	// element.
	data, err := json.Marshal(build(d))
	if err != nil {
		return fmt.Errorf("encode the report's data: %w", err)
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	err = pageTemplate.Execute(bw, map[string]any{
		"Title":          d.Title,
		"Version":        d.Version,
		"Data":           template.JS(data),
		"CSS":            template.CSS(asset("report.css")),
		"JS":             template.JS(asset("report.js")),
		"UPlotCSS":       template.CSS(asset("uPlot.min.css")),
		"UPlotJS":        template.JS(asset("uPlot.iife.min.js")),
		"LeafletCSS":     template.CSS(asset("leaflet.css")),
		"LeafletJS":      template.JS(asset("leaflet.js")),
		"UPlotLicense":   asset("LICENSE-uPlot"),
		"LeafletLicense": asset("LICENSE-Leaflet"),
	})
	if err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	return bw.Flush()
}
