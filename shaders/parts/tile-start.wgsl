// parts/tile-start.wgsl — the start of a register-tile kernel's body (parts/tiles.wgsl);
// parts/tile-step.wgsl is its inner step, parts/tile-store.wgsl its end.
//
// The including template sets ROWS and COLS (COLS a multiple of 4), and rowEnd and colEnd: the
// matrix's rows and columns (WGSL expressions). Defines row0, col0 (the tile's first row and
// column), lastRow, lastCol (the matrix's last) and lastTileRow (the tile's last row inside the
// matrix); invocations whose tile starts past the edge return.
let row0 = group.y * WG_Y * {ROWS}u + local.y;
let col0 = group.x * WG_X * {COLS}u + local.x;
if (row0 >= {rowEnd} || col0 >= {colEnd}) {
  return;
}
let lastRow = {rowEnd} - 1u;
let lastCol = {colEnd} - 1u;
let lastTileRow = min(row0 + {ROWS - 1}u * WG_Y, lastRow);
//#each r < ROWS, h < COLS / 4: var acc{r}_{h} = vec4<f32>(0.0);
