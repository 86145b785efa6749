"""LAMMPS itself: the MD-HO deck, its logs, what a build has, how ours and a site's `lmp` are started."""
