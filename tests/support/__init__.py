"""What tests share: events (SCF events), settings (bucket, region, environment), emulator (emulator-backed clients
and buckets), wires (`responses` fakes of COS and CI), images, reports (sample reports, golden files), deploy
(the deploy CLI's doubles)."""
