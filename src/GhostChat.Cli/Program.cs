Console.Error.WriteLine("usage: ghostchat <serve|doctor|bench> (not implemented yet)");
return 2;
