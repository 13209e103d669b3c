"""The pure core: pipeline policy, stages and the ports they run over. Imports only the standard library."""
