// parts/lane-start.wgsl — the start of a lane-tile kernel's body (parts/lanes.wgsl): where the
// team's block starts (row0, col0), the matrix's last row and column (lastRow, lastCol; loads
// and stores clamp to them), the block's last row inside the matrix (lastTileRow), and the
// lane's accumulators. The including template sets teamRow and teamCol, the team's block
// position counted in blocks, and rowEnd and colEnd, the matrix's rows and columns (WGSL
// expressions).
let row0 = ({teamRow}) * TILE_ROWS;
let col0 = ({teamCol}) * TILE_COLS;
let lastRow = {rowEnd} - 1u;
let lastCol = {colEnd} - 1u;
let lastTileRow = min(row0 + TILE_ROWS - 1u, lastRow);
//#each r < ROWS, m < COLS / 4: var acc{r}_{m} = 0.0;
