// parts/lane-step.wgsl — one step of a lane-tile matrix product (parts/lanes.wgsl), included
// inside the loop over the shared dimension. The including template sets `rowLoad`, this lane's
// value of load row {p} (tile row 4p + lane), and `colLoad`, its value of column {m} (tile
// column lane + 4m). Tile row r is lane r % 4 of load row r / 4.
//#each p < ROWS / 4: let a{p} = {rowLoad};
//#each m < COLS / 4: let b{m} = {colLoad};
//#each r < ROWS
{
  let x = subgroupBroadcast(a{r / 4}, {r % 4}u);
  //#each m < COLS / 4: acc{r}_{m} = fma(x, b{m}, acc{r}_{m});
}
//#end
