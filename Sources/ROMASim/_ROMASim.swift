// ROMASim
