package bench

import (
	"image/color"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// WritePlot draws the pause p50 and p99 against the session count, one
// colour per isolation mode, both axes logarithmic, with issue 6's p99
// targets, to path (.svg or .png, by its extension). Runs without a
// migration are left out.
func WritePlot(path string, res Results) error {
	p := plot.New()
	p.Title.Text = "translucent: pause a session saw during a live migration"
	var failed []string
	for _, r := range res.Runs {
		if !r.Migration.OK {
			failed = append(failed, colName(r))
		}
	}
	if len(failed) > 0 {
		p.Title.Text += "\n(not drawn, no migration: " + strings.Join(failed, "; ") + ")"
	}
	p.X.Label.Text = "sessions"
	p.Y.Label.Text = "pause (ms)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	// Pauses grow with the sessions: the bottom right stays empty.
	p.Legend.Top, p.Legend.Left = false, false
	p.Add(plotter.NewGrid())

	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	palette := []color.Color{
		color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
		color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
		color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
		color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
	}
	var modes []string
	for _, r := range res.Runs {
		if !slices.Contains(modes, r.Isolate) {
			modes = append(modes, r.Isolate)
		}
	}
	stats := []struct {
		name   string
		shape  draw.GlyphDrawer
		dashes []vg.Length
		value  func(Measurement) time.Duration
	}{
		{"p99", draw.SquareGlyph{}, nil, func(r Measurement) time.Duration { return r.Migration.Pause.P99 }},
		{"p50", draw.CircleGlyph{}, []vg.Length{vg.Points(2), vg.Points(2)}, func(r Measurement) time.Duration { return r.Migration.Pause.P50 }},
	}
	for i, mode := range modes {
		for _, s := range stats {
			var xys plotter.XYs
			for _, r := range res.Runs {
				// A log axis cannot show zero: a run without a measured
				// pause is simply absent.
				if v := s.value(r); r.Isolate == mode && r.Migration.OK && r.Migration.Pause.N > 0 && v > 0 {
					xys = append(xys, plotter.XY{X: float64(r.Sessions), Y: ms(v)})
				}
			}
			if len(xys) == 0 {
				continue
			}
			line, points, err := plotter.NewLinePoints(xys)
			if err != nil {
				return err
			}
			c := palette[i%len(palette)]
			line.Color, line.Dashes, points.Color, points.Shape = c, s.dashes, c, s.shape
			p.Add(line, points)
			name := "pause " + s.name
			if mode != "" {
				name = mode + ": " + name
			}
			p.Legend.Add(name, line, points)
		}
	}

	target := plotter.XYs{{X: 1, Y: 20}, {X: 100, Y: 50}, {X: 1000, Y: 250}, {X: 10000, Y: 2000}}
	tl, err := plotter.NewLine(target)
	if err != nil {
		return err
	}
	tl.Color = color.Gray{Y: 0x80}
	tl.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(tl)
	p.Legend.Add("p99 target", tl)
	return p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}
