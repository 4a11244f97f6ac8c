"""The page runner: procedures of documentation pages run as written (see README, "Pages run as written")."""
