"""The upload pipeline, in the order a file goes through it: receive (bytes arriving, whole or in resumable parts),
check (a worker's check of an arrived file: the `check_upload` actor), inspect (decode and measure, refusing with a
stable code) and store (the library item and its files, all or nothing)."""
