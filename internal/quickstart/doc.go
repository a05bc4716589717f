// Package quickstart generates the world of `timefence quickstart`: card
// transactions of 300 users over 30 days, and the versions a nightly
// pipeline lands in the feature view user_daily_spend, hours after each day
// closes and again when late transactions arrive. The data is the same on
// every run. The package also computes, by brute force over that data, what
// a naive event-time join reads, to show where it leaks.
//
//	d := quickstart.Generate()
//	spine := d.TrainSpine()
//	rec := quickstart.SpineRecord(spine) // send it to a point-in-time join
//	...
//	leaked := d.Leaks(spine, got) // got: quickstart.ReadFeatures of each result record
//
// Definitions is the definitions file that describes this world.
package quickstart
