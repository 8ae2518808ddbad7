namespace GhostChat.Turn.Tests;

public sealed class TurnAssemblyTests
{
    [Fact]
    public void Name_IsTheLibraryName() => Assert.Equal("GhostChat.Turn", TurnAssembly.Name);
}
